// SPDX-License-Identifier: GPL-2.0
/*
 * gokmod_user: a test fixture that uses gokmod_params' exports, so that
 * its .modinfo has depends=gokmod_params and an import_ns.
 */
#include <linux/init.h>
#include <linux/module.h>

MODULE_IMPORT_NS(GOKMOD_TEST);

extern int gokmod_params_value(void);
extern int gokmod_params_gpl_value(void);
extern int gokmod_params_ns_value(void);

static int __init gokmod_user_init(void)
{
	return gokmod_params_value() + gokmod_params_gpl_value() + gokmod_params_ns_value() > 0 ? 0 : 0;
}

static void __exit gokmod_user_exit(void)
{
}

module_init(gokmod_user_init);
module_exit(gokmod_user_exit);

MODULE_DESCRIPTION("gokmod test fixture that depends on gokmod_params");
MODULE_LICENSE("GPL");
