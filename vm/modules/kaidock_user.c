// SPDX-License-Identifier: GPL-2.0
/*
 * kaidock_user calls kaidock_export_value from kaidock_export, so its
 * .modinfo says depends=kaidock_export and the kernel records it as a holder.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

int kaidock_export_value(void);

static int __init kaidock_user_init(void)
{
	pr_info("kaidock_export_value() = %d\n", kaidock_export_value());
	return 0;
}

static void __exit kaidock_user_exit(void)
{
	pr_info("unloaded\n");
}

module_init(kaidock_user_init);
module_exit(kaidock_user_exit);

MODULE_AUTHOR("gokmod");
MODULE_DESCRIPTION("uses the symbol kaidock_export exports");
MODULE_LICENSE("GPL");
