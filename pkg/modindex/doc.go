// Package modindex reads and writes kmod's binary module indexes, the
// modules.*.bin files that depmod writes next to the text indexes and
// that libkmod searches (modules.dep.bin, modules.alias.bin,
// modules.symbols.bin, modules.builtin.bin, modules.builtin.alias.bin).
//
// An index maps string keys to lists of values, each value a string with
// a priority. On disk it is a trie: a 12-byte big-endian header (magic
// 0xB007F457, version 0x00020001, the offset of the root node) followed by
// nodes written children first. A node is addressed by a 32-bit word whose
// top bits say what the node holds (a prefix string, a child table, a
// value list) and whose low 28 bits are its file offset. A prefix is a
// NUL-terminated string shared by every key below the node; a child table
// is a first and a last byte and one offset per byte between them (0 for
// none); a value list is a count and then, per value, its priority and its
// NUL-terminated string, in ascending priority.
//
// Builder builds an index from key/value/priority triples and writes the
// same bytes kmod 30's depmod writes for the same insertions in the same
// order. Index reads one: Lookup finds a key exactly (what libkmod's
// index_search does with modules.dep.bin), Search treats the stored keys
// as fnmatch(3) patterns and returns every value of every key matching a
// string (index_searchwild, for modules.alias.bin), and Walk visits every
// key in kmod's dump order.
//
// An index file is untrusted input: the reader checks every offset
// against the file, never follows a node twice in one walk and turns a
// panic into an error wrapping ErrCorrupt.
package modindex
