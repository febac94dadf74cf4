// SPDX-License-Identifier: GPL-2.0
/*
 * kaidock_gplonly calls ktime_get, which the kernel exports GPL-only, while
 * its license is "Proprietary": the kernel taints itself (P) and refuses the
 * module with ENOENT, "Unknown symbol ktime_get".
 *
 * modpost will not link a GPL-incompatible module that uses a GPL-only
 * symbol, so the source declares a GPL-compatible license of the same length
 * budget and gokmod-vm modules rewrites the license string in the built
 * .ko's .modinfo to "Proprietary" (NUL-padded), giving the module the kernel
 * would get from a build that bypassed modpost's check.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/timekeeping.h>

static int __init kaidock_gplonly_init(void)
{
	pr_info("ktime_get() = %lld\n", ktime_to_ns(ktime_get()));
	return 0;
}

static void __exit kaidock_gplonly_exit(void)
{
}

module_init(kaidock_gplonly_init);
module_exit(kaidock_gplonly_exit);

MODULE_AUTHOR("gokmod");
MODULE_DESCRIPTION("a non-GPL module that calls a GPL-only symbol");
MODULE_LICENSE("GPL and additional rights");
