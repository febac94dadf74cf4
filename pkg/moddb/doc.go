// Package moddb answers questions about the modules installed for one
// kernel from the text indexes depmod writes to
// <root>/lib/modules/<kver>/: which file a module name is (modules.dep),
// which modules an alias names (modules.alias, fnmatch patterns as kmod
// matches them), which modules are built into the kernel (modules.builtin)
// and their .modinfo strings (modules.builtin.modinfo), and which module
// exports a symbol (modules.symbols).
//
// A DB reads each file once, when first needed, from an fs.FS, so tests
// run on fixture trees. The binary .bin indexes are not read: Debian and
// kmod's depmod write the text files next to them.
package moddb
