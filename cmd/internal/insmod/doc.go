// Package insmod is goinsmod: kmod's insmod over pkg/loader, with the
// kernel's own log lines about a failed load and a hint that says what to
// do.
//
// Flags, messages and exit codes are kmod 30's: "insmod: ERROR: could not
// insert module FILE: REASON" and status 1. After that line come the
// kernel log records logged during the load that concern it (read from
// /dev/kmsg) and one "hint:" line. -v prints each syscall the loader made;
// -s and -p are accepted and ignored, as kmod 30 does.
package insmod
