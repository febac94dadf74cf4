// Command gokmod-vm is gokmod's real-kernel test bed: it provisions kernels
// into a cache, builds kaidock and its companion modules for each, writes an
// initramfs with our tools, kmod's reference tools and the test keys, and
// boots it in QEMU to run a command, a `go test` binary (as the -exec
// wrapper), the whole tests/ package on every kernel, or the demo.
//
// Usage:
//
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
// The cache is $GOKMOD_CACHE, else $XDG_CACHE_HOME/gokmod or
// ~/.cache/gokmod; every artifact directory is named after what went into it
// and is created under a temporary name and renamed when complete, so a warm
// run downloads and builds nothing and an interrupted one leaves no half
// artifact behind.
package main
