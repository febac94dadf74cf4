// Package kernel is gokmod's only door to the kernel: the module syscalls
// (finit_module, init_module, delete_module), uname, and the kernel log as
// /dev/kmsg hands it out.
//
// A failed syscall returns an *Error that names the call and carries its
// errno. It unwraps both to the errno and to one of this package's
// sentinels, so callers can ask errors.Is(err, kernel.ErrExist) without
// importing golang.org/x/sys/unix, or errors.Is(err, unix.EEXIST) if they
// do. Message gives the C library's text for an errno, which is what kmod
// prints.
//
// Nothing above this package imports golang.org/x/sys/unix; the packages
// that read /proc and /sys take an fs.FS instead, so they run on fixtures.
package kernel
