// Package lsmod is golsmod: kmod's lsmod over pkg/sysmod. The default
// output is byte for byte kmod 30's ("Module                  Size  Used
// by", then "%-19s %8d  %d" and the holders); --json prints the same
// modules, with state and taint, as a JSON array. A module unloaded while
// the list is read is left out (kmod prints it with size and count -2).
// Like kmod 30's lsmod it takes no options besides these two; anything
// else gets its usage line.
package lsmod
