// Package explain gathers what pkg/diagnose needs to explain a failed
// load (the module's name, license and parameters, the running release,
// modules.symbols and /proc/kallsyms) and prints the kernel's log lines
// and the hint, for goinsmod and gomodprobe.
package explain
