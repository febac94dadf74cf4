package modfiletest

import (
	"debug/elf"
	"encoding/binary"
)

// Section is a section of a synthetic module. The zero values of Flags,
// Link, Info and Entsize are what most sections want.
type Section struct {
	Name    string
	Type    elf.SectionType
	Flags   elf.SectionFlag
	Data    []byte
	Link    uint32
	Info    uint32
	Entsize uint64
}

// ELF builds a minimal relocatable (ET_REL) ELF file of the given class
// (64-bit if is64, else 32-bit), byte order and machine. The section table
// holds the null section, secs in order (so secs[i] has index i+1) and a
// final .shstrtab; each section's data starts on an 8-byte boundary and
// its sh_addralign is 1.
func ELF(is64 bool, order binary.ByteOrder, machine elf.Machine, secs []Section) []byte {
	secs = append([]Section{{}}, secs...)
	names := []byte{0}
	nameOff := make([]uint32, len(secs)+1)
	for i, s := range secs[1:] {
		nameOff[i+1] = uint32(len(names))
		names = append(append(names, s.Name...), 0)
	}
	nameOff[len(secs)] = uint32(len(names))
	names = append(append(names, ".shstrtab"...), 0)
	secs = append(secs, Section{Name: ".shstrtab", Type: elf.SHT_STRTAB, Data: names})

	ehsize, shsize := 52, 40
	if is64 {
		ehsize, shsize = 64, 64
	}
	img := make([]byte, ehsize)
	offs := make([]int, len(secs))
	for i, s := range secs {
		img = pad8(img)
		offs[i] = len(img)
		img = append(img, s.Data...)
	}
	img = pad8(img)
	shoff := len(img)
	for i, s := range secs {
		h := make([]byte, shsize)
		order.PutUint32(h[0:], nameOff[i])
		order.PutUint32(h[4:], uint32(s.Type))
		off, size := offs[i], len(s.Data)
		if i == 0 {
			off = 0
		}
		if is64 {
			order.PutUint64(h[8:], uint64(s.Flags))
			order.PutUint64(h[24:], uint64(off))
			order.PutUint64(h[32:], uint64(size))
			order.PutUint32(h[40:], s.Link)
			order.PutUint32(h[44:], s.Info)
			order.PutUint64(h[48:], 1)
			order.PutUint64(h[56:], s.Entsize)
		} else {
			order.PutUint32(h[8:], uint32(s.Flags))
			order.PutUint32(h[16:], uint32(off))
			order.PutUint32(h[20:], uint32(size))
			order.PutUint32(h[24:], s.Link)
			order.PutUint32(h[28:], s.Info)
			order.PutUint32(h[32:], 1)
			order.PutUint32(h[36:], uint32(s.Entsize))
		}
		img = append(img, h...)
	}
	copy(img, elf.ELFMAG)
	img[elf.EI_CLASS] = byte(elf.ELFCLASS32)
	if is64 {
		img[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	}
	img[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	if order == binary.ByteOrder(binary.BigEndian) {
		img[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	img[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	order.PutUint16(img[16:], uint16(elf.ET_REL))
	order.PutUint16(img[18:], uint16(machine))
	order.PutUint32(img[20:], uint32(elf.EV_CURRENT))
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

// Module builds the smallest module package modfile reads: a 64-bit
// little-endian x86-64 relocatable object whose only sections are .modinfo
// (SHT_PROGBITS, holding modinfo as given, usually NUL-separated key=value
// strings) and the section name table. The .modinfo data starts at byte 64.
func Module(modinfo string) []byte {
	return ELF(true, binary.LittleEndian, elf.EM_X86_64, []Section{
		{Name: ".modinfo", Type: elf.SHT_PROGBITS, Data: []byte(modinfo)},
	})
}

func pad8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}
