// SPDX-License-Identifier: GPL-2.0
/*
 * kaidock_params has one parameter of each common type, so loaders can be
 * checked for how they pass parameter strings (quoting, arrays, booleans) by
 * reading /sys/module/kaidock_params/parameters/ back.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static int intparam = -1;
module_param(intparam, int, 0644);
MODULE_PARM_DESC(intparam, "an int");

static unsigned int uintparam = 1;
module_param(uintparam, uint, 0644);
MODULE_PARM_DESC(uintparam, "an unsigned int");

static long longparam = -2;
module_param(longparam, long, 0644);
MODULE_PARM_DESC(longparam, "a long");

static short shortparam = 3;
module_param(shortparam, short, 0644);
MODULE_PARM_DESC(shortparam, "a short");

static bool boolparam;
module_param(boolparam, bool, 0644);
MODULE_PARM_DESC(boolparam, "a bool");

static char *charpparam = "kaidock";
module_param(charpparam, charp, 0644);
MODULE_PARM_DESC(charpparam, "a string");

static int arrayparam[4] = { 1, 2 };
static int arrayparam_count = 2;
module_param_array(arrayparam, int, &arrayparam_count, 0644);
MODULE_PARM_DESC(arrayparam, "up to four ints");

static int __init kaidock_params_init(void)
{
	pr_info("intparam=%d uintparam=%u longparam=%ld shortparam=%hd boolparam=%d charpparam=%s arrayparam_count=%d\n",
		intparam, uintparam, longparam, shortparam, boolparam,
		charpparam, arrayparam_count);
	return 0;
}

static void __exit kaidock_params_exit(void)
{
}

module_init(kaidock_params_init);
module_exit(kaidock_params_exit);

MODULE_AUTHOR("gokmod");
MODULE_DESCRIPTION("parameters of several types");
MODULE_LICENSE("GPL");
