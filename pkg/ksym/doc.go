// Package ksym reads kernel symbol tables: /proc/kallsyms and System.map,
// whose lines are "ADDRESS TYPE NAME" with, in kallsyms, a fourth field
// "[MODULE]" for symbols of loaded modules.
//
// A Table answers three questions: where a name is (Lookup, preferring the
// kernel's symbol over a module's of the same name), which symbol an
// address falls in (At, the nearest symbol at or below it and the offset
// from it, for naming call targets), and what the kernel exports to
// modules (Export: the __ksymtab_NAME entries, GPL-only when the entry lies
// between __start___ksymtab_gpl and __stop___ksymtab_gpl, or what Add was
// told about a module's exports).
//
// The input is untrusted: a malformed line is an error wrapping
// ErrSyntax that names the line, and a panic while parsing becomes an
// error. A table read as an unprivileged user, whose addresses the kernel
// hid (kptr_restrict), is refused with ErrHidden, and Debian's placeholder
// System.map with ErrPlaceholder.
package ksym
