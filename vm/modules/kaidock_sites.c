// SPDX-License-Identifier: GPL-2.0
/*
 * kaidock_sites has one of each kind of code the kernel rewrites after
 * linking a module, so that gomodlink's marks can be checked against a
 * live kernel: an ftrace call site and a return thunk (every function), a
 * static call, a jump label (static key), a lock prefix (.smp_locks), an
 * indirect call (a retpoline site), a CPU feature test (an alternative)
 * and a fault-tolerant read (an exception table entry).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/init.h>
#include <linux/jump_label.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/static_call.h>
#include <linux/uaccess.h>
#include <asm/cpufeature.h>

static int kaidock_sites_double(int x)
{
	return 2 * x;
}

static int kaidock_sites_triple(int x)
{
	return 3 * x;
}

DEFINE_STATIC_CALL(kaidock_sites_call, kaidock_sites_double);
static DEFINE_STATIC_KEY_FALSE(kaidock_sites_key);
static atomic_t kaidock_sites_count = ATOMIC_INIT(0);
static int (*kaidock_sites_fn)(int) = kaidock_sites_triple;
static int kaidock_sites_value = 7;

static noinline int kaidock_sites_run(int x)
{
	int v = static_call(kaidock_sites_call)(x);
	int w = 0;

	if (static_branch_unlikely(&kaidock_sites_key))
		v++;
	atomic_inc(&kaidock_sites_count);
	v += READ_ONCE(kaidock_sites_fn)(x);
	if (static_cpu_has(X86_FEATURE_AVX2))
		v += 10;
	__get_kernel_nofault(&w, &kaidock_sites_value, int, fault);
	v += w;
fault:
	return v;
}

static int __init kaidock_sites_init(void)
{
	pr_info("run(1) = %d\n", kaidock_sites_run(1));
	return 0;
}

static void __exit kaidock_sites_exit(void)
{
	pr_info("run(2) = %d\n", kaidock_sites_run(2));
}

module_init(kaidock_sites_init);
module_exit(kaidock_sites_exit);

MODULE_AUTHOR("gokmod");
MODULE_DESCRIPTION("code of every kind the kernel rewrites after linking");
MODULE_LICENSE("GPL");
