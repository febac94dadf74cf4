// Package depmod builds the module indexes of one kernel's module
// directory, <root>/lib/modules/<kver>, as kmod 30's depmod does:
// modules.dep and .dep.bin, .alias and .alias.bin, .softdep, .symbols and
// .symbols.bin, .builtin.bin, .builtin.alias.bin and .devname, each byte
// for byte what kmod writes for the same tree.
//
// Build finds the modules (depmod.d search, override, external and
// exclude rules, duplicates resolved by priority), reads the few sections
// depmod needs from each (.modinfo, .symtab, .strtab, __versions,
// __ksymtab_strings) on a bounded number of goroutines, orders them by
// modules.order, resolves their symbols and dependencies and renders the
// files in memory. Write puts the files in place, each through a
// temporary file and a rename, so a reader never sees half an index.
//
// The result does not depend on the number of workers or on the order in
// which the file system lists directories. Where kmod's choice between
// two files of the same module depends on that order (two files of equal
// priority), Build takes the one with the lower path and says why; every
// other choice is kmod's. Messages (kmod's warnings and errors, word for
// word) go to Options.Log in the order kmod prints them.
package depmod
