// Package sysmod reads what the kernel says about loaded modules:
// /proc/modules for the list and its order, and /sys/module/NAME for a
// module's size, reference count, holders, state, parameters and taint.
//
// Every function takes an fs.FS rooted at the system's "/" (os.DirFS("/")
// on a live system, an fstest.MapFS or a directory of fixtures in tests),
// so nothing here needs root or a kernel with module support.
//
// Sizes, reference counts and holders come from /sys/module as kmod's
// lsmod takes them. A module that is unloaded while a list is being built
// is left out rather than reported with made-up numbers.
package sysmod
