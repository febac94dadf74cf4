package modfiletest

import (
	"debug/elf"
	"encoding/binary"
)

// Sym is a symbol of a synthetic 64-bit module's symbol table.
type Sym struct {
	Name    string
	Info    byte   // elf.ST_INFO(bind, type)
	Section uint16 // section index (secs[i] of ELF has index i+1), or SHN_UNDEF, SHN_ABS...
	Value   uint64
	Size    uint64
}

// Symtab lays out a little-endian ELF64 symbol table holding the null
// symbol and syms (so syms[i] has index i+1), and its string table. The
// .symtab section's Info must be the index of its first global symbol and
// its Link the index of the string table; Entsize is 24.
func Symtab(syms []Sym) (symtab, strtab []byte) {
	strtab = []byte{0}
	symtab = make([]byte, 24)
	for _, s := range syms {
		e := make([]byte, 24)
		le := binary.LittleEndian
		if s.Name != "" {
			le.PutUint32(e, uint32(len(strtab)))
			strtab = append(append(strtab, s.Name...), 0)
		}
		e[4] = s.Info
		le.PutUint16(e[6:], s.Section)
		le.PutUint64(e[8:], s.Value)
		le.PutUint64(e[16:], s.Size)
		symtab = append(symtab, e...)
	}
	return symtab, strtab
}

// Rela is one entry of a little-endian ELF64 SHT_RELA section.
type Rela struct {
	Offset uint64
	Sym    uint32 // symbol index (Symtab's syms[i] is i+1)
	Type   elf.R_X86_64
	Addend int64
}

// RelaData lays out the entries of an SHT_RELA section (Entsize 24).
func RelaData(rs []Rela) []byte {
	out := make([]byte, 0, 24*len(rs))
	for _, r := range rs {
		e := make([]byte, 24)
		binary.LittleEndian.PutUint64(e, r.Offset)
		binary.LittleEndian.PutUint64(e[8:], uint64(r.Sym)<<32|uint64(r.Type))
		binary.LittleEndian.PutUint64(e[16:], uint64(r.Addend))
		out = append(out, e...)
	}
	return out
}
