// Package getopt parses command lines as glibc's getopt_long(3) does for
// kmod's tools, with glibc's messages, so that a gokmod tool fails on a
// bad option exactly as its kmod counterpart does.
package getopt
