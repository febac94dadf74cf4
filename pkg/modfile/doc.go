// Package modfile reads Linux kernel module files (.ko), plain or
// compressed with gzip, xz, zstd or lz4 (recognised by magic bytes, not by
// name).
//
// A module is an ELF relocatable object of either class and byte order, for
// any machine. The package treats it as untrusted input: every offset is
// checked against the file size, and a panic inside debug/elf becomes an
// error wrapping ErrBadELF.
//
// Open and NewFile read only the ELF header and section headers; each
// accessor reads what it needs when first called: Info the .modinfo
// strings (in section order, repeated keys kept), Versions the __versions
// CRCs, UndefinedSymbols and ExportedSymbols the symbol table, Signature
// the appended signature (parsed by package modsig), Image the whole
// decompressed file. StripVersions and StripVermagic return modified
// copies of the image for a forced load, as kmod's libkmod-elf.c does.
//
// A File is not safe for concurrent use.
package modfile
