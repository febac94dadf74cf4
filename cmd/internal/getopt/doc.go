// Package getopt parses command lines as glibc's getopt_long(3) does for
// kmod's tools, so that the gokmod commands accept and refuse the same
// spellings and print glibc's messages.
package getopt
