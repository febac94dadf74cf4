// Package modprobe is gomodprobe: kmod 30's modprobe over pkg/modprobe,
// with its options (parsed as glibc's getopt_long parses them), output,
// messages and exit codes. MODPROBE_OPTIONS is prepended to the
// arguments, configuration problems are reported in libkmod's words, and
// a fatal message ends the run with status 1, as kmod's log does.
//
// Beyond kmod: --json for -D, -c and -R; after a failure, the
// configuration line behind it and, for a failed load, the kernel's log
// lines and a "hint:" line, as goinsmod prints them.
package modprobe
