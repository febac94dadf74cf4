// SPDX-License-Identifier: GPL-2.0
/*
 * kaidock_export exports kaidock_export_value, which kaidock_user calls, so
 * that loading kaidock_user makes this module "in use" (refcnt 1, holder
 * kaidock_user) and rmmod of it fails until kaidock_user is gone.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

int kaidock_export_value(void)
{
	return 42;
}
EXPORT_SYMBOL(kaidock_export_value);

static int __init kaidock_export_init(void)
{
	pr_info("loaded\n");
	return 0;
}

static void __exit kaidock_export_exit(void)
{
	pr_info("unloaded\n");
}

module_init(kaidock_export_init);
module_exit(kaidock_export_exit);

MODULE_AUTHOR("gokmod");
MODULE_DESCRIPTION("exports a symbol for kaidock_user");
MODULE_LICENSE("GPL");
