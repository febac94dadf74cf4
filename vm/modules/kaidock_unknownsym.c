// SPDX-License-Identifier: GPL-2.0
/*
 * kaidock_unknownsym calls a function that no kernel exports, so loading it
 * fails with ENOENT and dmesg "Unknown symbol kaidock_no_such_symbol". The
 * build needs KBUILD_MODPOST_WARN=1 to let modpost link it anyway.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

void kaidock_no_such_symbol(void);

static int __init kaidock_unknownsym_init(void)
{
	kaidock_no_such_symbol();
	return 0;
}

static void __exit kaidock_unknownsym_exit(void)
{
}

module_init(kaidock_unknownsym_init);
module_exit(kaidock_unknownsym_exit);

MODULE_AUTHOR("gokmod");
MODULE_DESCRIPTION("calls a symbol that does not exist");
MODULE_LICENSE("GPL");
