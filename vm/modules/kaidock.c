// SPDX-License-Identifier: GPL-2.0
/*
 * kaidock: a timer that prints jiffies every HZ, the sample module of the
 * "kernel modules" article this project starts from.
 *
 * The timer ticks `loop` times and then stops; loop=0 (or less) ticks until
 * the module is removed. The parameter is writable at run time through
 * /sys/module/kaidock/parameters/loop and then sets the ticks still to come.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/timer.h>

static int loop = INT_MAX;
module_param(loop, int, 0644);
MODULE_PARM_DESC(loop, "specify the loop count");

static void kaidock_func(struct timer_list *timer);

static DEFINE_TIMER(kaidock_timer, kaidock_func);

static void kaidock_func(struct timer_list *timer)
{
	pr_err("jiffies=%lu\n", jiffies);
	if (loop <= 0 || --loop > 0)
		mod_timer(timer, jiffies + HZ);
}

static int __init kaidock_init(void)
{
	mod_timer(&kaidock_timer, jiffies + HZ);
	return 0;
}

static void __exit kaidock_exit(void)
{
	del_timer_sync(&kaidock_timer);
}

module_init(kaidock_init);
module_exit(kaidock_exit);

MODULE_AUTHOR("gokmod");
MODULE_DESCRIPTION("prints jiffies every second");
MODULE_LICENSE("GPL");
