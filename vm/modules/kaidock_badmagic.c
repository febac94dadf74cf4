// SPDX-License-Identifier: GPL-2.0
/*
 * kaidock_badmagic is an ordinary module whose vermagic string is rewritten
 * after the build (gokmod-vm modules): "badmagic " is put in front of the
 * kernel's value and the result cut to the original length. With
 * modversions the kernel compares vermagic from the first space on, so the
 * shifted text always disagrees, and the kernel refuses the module with
 * ENOEXEC ("version magic ... should be ...") unless the loader passes
 * MODULE_INIT_IGNORE_VERMAGIC (insmod --force-vermagic) on a kernel built with
 * MODULE_FORCE_LOAD. Everything else (symbol versions, license) is intact.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static int __init kaidock_badmagic_init(void)
{
	pr_info("loaded despite its vermagic\n");
	return 0;
}

static void __exit kaidock_badmagic_exit(void)
{
	pr_info("unloaded\n");
}

module_init(kaidock_badmagic_init);
module_exit(kaidock_badmagic_exit);

MODULE_AUTHOR("gokmod");
MODULE_DESCRIPTION("a module with a vermagic no kernel has");
MODULE_LICENSE("GPL");
