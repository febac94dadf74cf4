// Package cpio writes "newc" cpio archives, the format the Linux kernel
// unpacks into its rootfs from an initramfs.
//
// The writer creates parent directories on its own, in order, so that the
// kernel's unpacker (which does not create them) finds them, and it can be
// used for one segment of a concatenated initramfs: the kernel accepts several
// archives one after the other.
package cpio
