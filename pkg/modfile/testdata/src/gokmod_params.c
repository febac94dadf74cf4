// SPDX-License-Identifier: GPL-2.0
/*
 * gokmod_params: a test fixture for pkg/modfile and gomodinfo. It has
 * parameters of several types (one without a description), aliases,
 * exported symbols (plain, GPL-only, in a namespace) and a soft
 * dependency. It does nothing when loaded.
 */
#include <linux/init.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static int loop = 1;
module_param(loop, int, 0644);
MODULE_PARM_DESC(loop, "specify the loop count");

static unsigned int count = 2;
module_param(count, uint, 0444);
MODULE_PARM_DESC(count, "an unsigned count");

static long big = 3;
module_param(big, long, 0444);
MODULE_PARM_DESC(big, "a long");

static short small = 4;
module_param(small, short, 0444);
MODULE_PARM_DESC(small, "a short");

static bool verbose;
module_param(verbose, bool, 0644);
MODULE_PARM_DESC(verbose, "print more");

static char *greeting = "hello";
module_param(greeting, charp, 0444);
MODULE_PARM_DESC(greeting, "a string");

static int values[4];
static int nvalues;
module_param_array(values, int, &nvalues, 0444);
MODULE_PARM_DESC(values, "up to four ints");

static int quiet;
module_param(quiet, int, 0444);

int gokmod_params_value(void)
{
	return loop + count + big + small + verbose + nvalues + quiet + greeting[0];
}
EXPORT_SYMBOL(gokmod_params_value);

int gokmod_params_gpl_value(void)
{
	return values[0];
}
EXPORT_SYMBOL_GPL(gokmod_params_gpl_value);

int gokmod_params_ns_value(void)
{
	return values[1];
}
EXPORT_SYMBOL_NS_GPL(gokmod_params_ns_value, GOKMOD_TEST);

static int __init gokmod_params_init(void)
{
	return 0;
}

static void __exit gokmod_params_exit(void)
{
}

module_init(gokmod_params_init);
module_exit(gokmod_params_exit);

MODULE_AUTHOR("gokmod authors");
MODULE_DESCRIPTION("gokmod test fixture with parameters");
MODULE_LICENSE("GPL");
MODULE_VERSION("1.2.3");
MODULE_ALIAS("gokmod-test-alias");
MODULE_ALIAS("gokmod:params");
MODULE_SOFTDEP("pre: dummy");
