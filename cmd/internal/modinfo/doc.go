// Package modinfo is the modinfo command: it prints the .modinfo strings
// and the signature of kernel modules given as files, module names or
// aliases, with kmod 30's options, output, error messages and exit
// statuses, plus --json and accumulating -F options.
package modinfo
