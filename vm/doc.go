// Command gokmod-vm is gokmod's real-kernel test bed: it provisions kernels
// into a cache, builds kaidock and its companion modules for each, writes an
// initramfs with our tools, kmod's reference tools and the test keys, and
// boots it in QEMU to run a command, a `go test` binary (as the -exec
// wrapper), the whole tests/ package on every kernel, or the demo.
//
// Usage:
//
//	gokmod-vm [--accel auto|kvm|tcg] COMMAND ...
//	gokmod-vm provision [--kernel F]...
//	gokmod-vm run [--kernel F] [--timeout D] [--env K=V]... -- CMD [ARGS...]
//	gokmod-vm exec [--kernel F] [--timeout D] TESTBIN [ARGS...]
//	gokmod-vm test [--kernel F]... [--jobs N] [-- GO-TEST-FLAGS...]
//	gokmod-vm demo
//	gokmod-vm modules --kdir DIR --out DIR
//
// Kernel flavours: debian61 (Debian's 6.1 kernel), debian612 (Debian's 6.12
// from bookworm-security) and secure (a tinyconfig 6.12 built from Debian's
// linux-source-6.12, trusting the generated test keys, booted with
// module.sig_enforce=1).
//
// QEMU's accelerator is chosen by a real boot, never by the presence of
// /dev/kvm: before the first guest of a run, when /dev/kvm opens, a test
// guest (the flavour's kernel and an initramfs that only runs busybox's
// true) is booted under KVM with a short timeout. KVM is used only when that
// guest reports back; otherwise TCG, with one line on stderr saying why. The
// outcome is remembered in the cache for the machine's boot
// (/proc/sys/kernel/random/boot_id). GOKMOD_ACCEL=auto|kvm|tcg, or --accel,
// overrides; kvm fails when KVM does not work instead of falling back. A
// guest that goes quiet on both serial ports (its /init writes a heartbeat
// to the log port) is stopped and reported with its kernel log.
//
// The files are named for what they hold: main.go (dispatch and flags),
// provision.go, cache.go (the cache and its lock), tools.go (the guest
// tools), guestrun.go (booting one command), qemu.go (QEMU and the serial
// ports), accel.go (the accelerator), testcmd.go, demo.go, debian.go,
// secure.go, modules.go, keys.go, pvh.go, initramfs.go, files.go and
// command.go (helpers). What host and guest agree on is in vm/contract.
//
// The cache is $GOKMOD_CACHE, else $XDG_CACHE_HOME/gokmod or
// ~/.cache/gokmod; every artifact directory is named after what went into it
// and is created under a temporary name and renamed when complete, so a warm
// run downloads and builds nothing and an interrupted one leaves no half
// artifact behind.
package main
