package modfile

import "encoding/binary"

// Builders of modfile-specific section contents, for images laid out by
// modfiletest.ELF.

// versionsSection builds __versions entries for the class.
func versionsSection(is64 bool, order binary.ByteOrder, vs []Version) []byte {
	var b []byte
	for _, v := range vs {
		e := make([]byte, versionEntrySize)
		n := 4
		if is64 {
			order.PutUint64(e, v.CRC)
			n = 8
		} else {
			order.PutUint32(e, uint32(v.CRC))
		}
		copy(e[n:], v.Name)
		b = append(b, e...)
	}
	return b
}

// thisModule builds a .gnu.linkonce.this_module with struct module's name.
func thisModule(is64 bool, name string) []byte {
	b := make([]byte, 256)
	off := 12
	if is64 {
		off = 24
	}
	copy(b[off:], name)
	return b
}

// synthSym is a symbol of a synthetic 64-bit symbol table.
type synthSym struct {
	name  uint32 // offset in .strtab
	info  byte
	shndx uint16
	value uint64
	size  uint64
}

func symtab64(order binary.ByteOrder, syms []synthSym) []byte {
	b := make([]byte, 24) // the null symbol
	for _, s := range syms {
		e := make([]byte, 24)
		order.PutUint32(e, s.name)
		e[4] = s.info
		order.PutUint16(e[6:], s.shndx)
		order.PutUint64(e[8:], s.value)
		order.PutUint64(e[16:], s.size)
		b = append(b, e...)
	}
	return b
}

func rela64(order binary.ByteOrder, off uint64, sym uint32, typ uint32, addend int64) []byte {
	e := make([]byte, 24)
	order.PutUint64(e, off)
	order.PutUint64(e[8:], uint64(sym)<<32|uint64(typ))
	order.PutUint64(e[16:], uint64(addend))
	return e
}
