// Package modfiletest builds kernel module files in memory, for tests.
//
// ELF lays out a minimal relocatable ELF object of either class and byte
// order for any machine, with the sections it is given, so that a test can
// cover layouts no compiler on the machine produces (32-bit, big-endian) or
// a module smaller than any real one. Module is the common case: a 64-bit
// little-endian x86-64 object with only a .modinfo section. Symtab and
// RelaData lay out a symbol table and relocations for a module with code.
//
// Like net/http/httptest, it is meant for tests only. It does not import
// package modfile, so that modfile's own tests can use it.
package modfiletest
