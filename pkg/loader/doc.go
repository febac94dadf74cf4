// Package loader loads and unloads kernel modules the way kmod does, and
// a little better.
//
// Load hands a file to finit_module by default. A compressed file goes to
// the kernel as it is (MODULE_INIT_COMPRESSED_FILE) when
// /sys/module/compression names its format, and is decompressed here and
// given to init_module otherwise. When the kernel's own decompressor
// rejects a file (EINVAL, as 6.x does for an xz file with a CRC64 check),
// or the kernel lacks finit_module (ENOSYS), Load retries in userspace,
// which kmod does not. Which call comes next is decided by Plan and Retry,
// pure functions over a Situation, so the policy is tested as a table.
//
// Unload applies kmod's checks before delete_module: built in, not loaded,
// held by other modules (named), referenced. Errors name what went wrong
// with sentinels and *InUseError; syscall failures are pkg/kernel errors
// that unwrap to their errno.
//
// Options carry the test seams: the root file system for /sys, the
// syscalls themselves, and a Trace callback that sees every attempt.
package loader
