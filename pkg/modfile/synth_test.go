package modfile

import (
	"encoding/binary"
)

// synthSection is a section of a synthetic module.
type synthSection struct {
	name    string
	typ     uint32
	flags   uint64
	data    []byte
	link    uint32
	info    uint32
	entsize uint64
}

// synthELF builds a minimal relocatable ELF file of either class and byte
// order, with the given sections after the null section and a final
// .shstrtab, for tests of layouts no compiler here produces (32-bit,
// big-endian).
func synthELF(is64 bool, order binary.ByteOrder, machine uint16, secs []synthSection) []byte {
	secs = append([]synthSection{{}}, secs...)
	names := []byte{0}
	nameOff := make([]uint32, len(secs)+1)
	for i, s := range secs[1:] {
		nameOff[i+1] = uint32(len(names))
		names = append(append(names, s.name...), 0)
	}
	nameOff[len(secs)] = uint32(len(names))
	names = append(append(names, ".shstrtab"...), 0)
	secs = append(secs, synthSection{name: ".shstrtab", typ: 3, data: names})

	ehsize, shsize := 52, 40
	if is64 {
		ehsize, shsize = 64, 64
	}
	img := make([]byte, ehsize)
	offs := make([]int, len(secs))
	for i, s := range secs {
		for len(img)%8 != 0 {
			img = append(img, 0)
		}
		offs[i] = len(img)
		img = append(img, s.data...)
	}
	for len(img)%8 != 0 {
		img = append(img, 0)
	}
	shoff := len(img)
	for i, s := range secs {
		h := make([]byte, shsize)
		order.PutUint32(h[0:], nameOff[i])
		order.PutUint32(h[4:], s.typ)
		off, size := offs[i], len(s.data)
		if i == 0 {
			off = 0
		}
		if is64 {
			order.PutUint64(h[8:], s.flags)
			order.PutUint64(h[24:], uint64(off))
			order.PutUint64(h[32:], uint64(size))
			order.PutUint32(h[40:], s.link)
			order.PutUint32(h[44:], s.info)
			order.PutUint64(h[48:], 1)
			order.PutUint64(h[56:], s.entsize)
		} else {
			order.PutUint32(h[8:], uint32(s.flags))
			order.PutUint32(h[16:], uint32(off))
			order.PutUint32(h[20:], uint32(size))
			order.PutUint32(h[24:], s.link)
			order.PutUint32(h[28:], s.info)
			order.PutUint32(h[32:], 1)
			order.PutUint32(h[36:], uint32(s.entsize))
		}
		img = append(img, h...)
	}
	copy(img, "\x7fELF")
	img[4] = 1
	if is64 {
		img[4] = 2
	}
	img[5] = 1
	if order == binary.ByteOrder(binary.BigEndian) {
		img[5] = 2
	}
	img[6] = 1
	order.PutUint16(img[16:], 1) // ET_REL
	order.PutUint16(img[18:], machine)
	order.PutUint32(img[20:], 1)
	if is64 {
		order.PutUint64(img[40:], uint64(shoff))
		order.PutUint16(img[52:], uint16(ehsize))
		order.PutUint16(img[58:], uint16(shsize))
		order.PutUint16(img[60:], uint16(len(secs)))
		order.PutUint16(img[62:], uint16(len(secs)-1))
	} else {
		order.PutUint32(img[32:], uint32(shoff))
		order.PutUint16(img[40:], uint16(ehsize))
		order.PutUint16(img[46:], uint16(shsize))
		order.PutUint16(img[48:], uint16(len(secs)))
		order.PutUint16(img[50:], uint16(len(secs)-1))
	}
	return img
}

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
