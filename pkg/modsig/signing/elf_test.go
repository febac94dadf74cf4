package signing

import (
	"bytes"
	"encoding/binary"
)

// fakeModule builds the smallest ELF64 relocatable object package modfile
// reads as a module: a .modinfo section and the section name table.
func fakeModule(modinfo string) []byte {
	le := binary.LittleEndian
	shstrtab := "\x00.modinfo\x00.shstrtab\x00"
	var b bytes.Buffer
	hdr := make([]byte, 64)
	copy(hdr, "\x7fELF\x02\x01\x01")
	le.PutUint16(hdr[16:], 1)  // ET_REL
	le.PutUint16(hdr[18:], 62) // EM_X86_64
	le.PutUint32(hdr[20:], 1)
	le.PutUint16(hdr[52:], 64) // e_ehsize
	le.PutUint16(hdr[58:], 64) // e_shentsize
	le.PutUint16(hdr[60:], 3)  // e_shnum
	le.PutUint16(hdr[62:], 2)  // e_shstrndx
	b.Write(hdr)
	infoOff := b.Len()
	b.WriteString(modinfo)
	strOff := b.Len()
	b.WriteString(shstrtab)
	for b.Len()%8 != 0 {
		b.WriteByte(0)
	}
	shoff := b.Len()
	le.PutUint64(b.Bytes()[40:], uint64(shoff))
	shdr := func(name, typ uint32, off, size int) {
		s := make([]byte, 64)
		le.PutUint32(s[0:], name)
		le.PutUint32(s[4:], typ)
		le.PutUint64(s[24:], uint64(off))
		le.PutUint64(s[32:], uint64(size))
		le.PutUint64(s[48:], 1)
		b.Write(s)
	}
	shdr(0, 0, 0, 0)
	shdr(1, 1, infoOff, len(modinfo))  // .modinfo, SHT_PROGBITS
	shdr(10, 3, strOff, len(shstrtab)) // .shstrtab, SHT_STRTAB
	return b.Bytes()
}
