package modfile

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"strings"
)

// Import is a symbol the module uses but does not define.
type Import struct {
	Name   string
	Weak   bool
	CRC    uint64 // from __versions, when HasCRC
	HasCRC bool
}

// Export is a symbol the module exports with EXPORT_SYMBOL*.
type Export struct {
	Name      string
	GPLOnly   bool   // EXPORT_SYMBOL_GPL
	Namespace string // EXPORT_SYMBOL_NS*, when it could be read
	CRC       uint64 // from the __crc_ symbol, when HasCRC
	HasCRC    bool
}

// symbols reads the symbol table with debug/elf. An ELF file is untrusted
// input: a panic inside debug/elf becomes an error.
func (f *File) symbols() (syms []elf.Symbol, err error) {
	defer func() {
		if r := recover(); r != nil {
			syms, err = nil, fmt.Errorf("%w: debug/elf: %v", ErrBadELF, r)
		}
	}()
	data, err := f.load()
	if err != nil {
		return nil, err
	}
	f.allSections()
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadELF, err)
	}
	syms, err = ef.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadELF, err)
	}
	return syms, nil
}

// UndefinedSymbols returns the symbols the module needs from the kernel or
// other modules, in symbol table order, with the CRC __versions gives.
func (f *File) UndefinedSymbols() ([]Import, error) {
	syms, err := f.symbols()
	if err != nil {
		return nil, fmt.Errorf("read symbols: %w", err)
	}
	vs, err := f.Versions()
	if err != nil {
		return nil, err
	}
	crcs := make(map[string]uint64, len(vs))
	for _, v := range vs {
		crcs[v.Name] = v.CRC
	}
	var out []Import
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF || s.Name == "" {
			continue
		}
		imp := Import{Name: s.Name, Weak: elf.ST_BIND(s.Info) == elf.STB_WEAK}
		imp.CRC, imp.HasCRC = crcs[s.Name]
		out = append(out, imp)
	}
	return out, nil
}

// ExportedSymbols returns the symbols the module exports, in symbol table
// order. It finds each __ksymtab_NAME symbol and its section (__ksymtab or
// __ksymtab_gpl); the namespace comes from the __kstrtabns_NAME string
// (Linux up to 6.4) or from the relocation of struct kernel_symbol's
// namespace field (6.5+); the CRC from __crc_NAME. A module whose symbol
// table was stripped falls back to the names of __ksymtab_strings, as
// kmod does, without GPL-ness or namespaces.
func (f *File) ExportedSymbols() ([]Export, error) {
	syms, err := f.symbols()
	if err != nil {
		return nil, fmt.Errorf("read symbols: %w", err)
	}
	if len(syms) == 0 {
		return f.exportsFromStrings()
	}
	byName := make(map[string]int, len(syms))
	for i, s := range syms {
		if strings.HasPrefix(s.Name, "__kstrtabns_") || strings.HasPrefix(s.Name, "__crc_") {
			byName[s.Name] = i
		}
	}
	var out []Export
	for _, s := range syms {
		name, ok := strings.CutPrefix(s.Name, "__ksymtab_")
		if !ok || name == "" || s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.sections) {
			continue
		}
		sec := f.sections[s.Section].Name
		if !strings.HasPrefix(sec, "__ksymtab") && !strings.HasPrefix(sec, "___ksymtab") {
			continue
		}
		e := Export{Name: name, GPLOnly: strings.Contains(sec, "_gpl")}
		if i, ok := byName["__kstrtabns_"+name]; ok {
			e.Namespace = f.stringAt(syms[i].Section, syms[i].Value)
		} else {
			e.Namespace = f.namespaceByReloc(syms, s)
		}
		if i, ok := byName["__crc_"+name]; ok {
			e.CRC, e.HasCRC = f.crcOf(syms[i])
		}
		out = append(out, e)
	}
	return out, nil
}

func (f *File) exportsFromStrings() ([]Export, error) {
	b, err := f.sectionBytes("__ksymtab_strings")
	if errors.Is(err, ErrNoSection) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read __ksymtab_strings: %w", err)
	}
	var out []Export
	for _, fld := range ParseInfo(b) {
		out = append(out, Export{Name: fld.Key + valueSuffix(fld)})
	}
	return out, nil
}

func valueSuffix(f Field) string {
	if f.Value == "" {
		return ""
	}
	return "=" + f.Value
}

// stringAt reads the NUL-terminated string at offset off of section idx.
func (f *File) stringAt(idx elf.SectionIndex, off uint64) string {
	if int(idx) >= len(f.sections) || idx == elf.SHN_UNDEF {
		return ""
	}
	s := f.sections[idx]
	if !s.inFile || off >= s.Size {
		return ""
	}
	return cstring(f.data[s.Offset+off : s.Offset+s.Size])
}

// crcOf reads a __crc_ symbol: an absolute symbol whose value is the CRC,
// or a 32-bit value in a __kcrctab section.
func (f *File) crcOf(s elf.Symbol) (uint64, bool) {
	if s.Section == elf.SHN_ABS {
		return s.Value, true
	}
	if int(s.Section) >= len(f.sections) || s.Section == elf.SHN_UNDEF {
		return 0, false
	}
	sec := f.sections[s.Section]
	if !sec.inFile || s.Value > sec.Size || sec.Size-s.Value < 4 {
		return 0, false
	}
	return uint64(f.order.Uint32(f.data[sec.Offset+s.Value:])), true
}

// namespaceByReloc reads the namespace of a 6.5+ struct kernel_symbol
// {value, name, namespace}: the relocation that fills its namespace field
// points into __ksymtab_strings.
func (f *File) namespaceByReloc(syms []elf.Symbol, ks elf.Symbol) string {
	// With PREL32 relocations the fields are 32-bit offsets (a 12-byte
	// struct); otherwise pointers.
	field := uint64(8)
	if f.class == Class64 && ks.Size != 12 {
		field = 16
	}
	target := ks.Value + field
	for _, rs := range f.sections {
		if (rs.Type != uint32(elf.SHT_RELA) && rs.Type != uint32(elf.SHT_REL)) || elf.SectionIndex(rs.Info) != ks.Section || !rs.inFile {
			continue
		}
		rela := rs.Type == uint32(elf.SHT_RELA)
		ent := f.relEntSize(rela)
		b := f.data[rs.Offset : rs.Offset+rs.Size]
		for ; uint64(len(b)) >= ent; b = b[ent:] {
			off, symIdx, addend := f.readRel(b, rela)
			if off != target {
				continue
			}
			if symIdx == 0 || symIdx > uint64(len(syms)) {
				return ""
			}
			if !rela {
				addend = f.implicitAddend(ks.Section, target, field == 16)
			}
			t := syms[symIdx-1]
			return f.stringAt(t.Section, t.Value+uint64(addend))
		}
	}
	return ""
}

func (f *File) relEntSize(rela bool) uint64 {
	n := uint64(8)
	if f.class == Class64 {
		n = 16
	}
	if rela {
		n += n / 2
	}
	return n
}

func (f *File) readRel(b []byte, rela bool) (off, sym uint64, addend int64) {
	o := f.order
	if f.class == Class64 {
		off, sym = o.Uint64(b), o.Uint64(b[8:])>>32
		if rela {
			addend = int64(o.Uint64(b[16:]))
		}
		return off, sym, addend
	}
	off, sym = uint64(o.Uint32(b)), uint64(o.Uint32(b[4:])>>8)
	if rela {
		addend = int64(int32(o.Uint32(b[8:])))
	}
	return off, sym, addend
}

func (f *File) implicitAddend(idx elf.SectionIndex, off uint64, wide bool) int64 {
	s := f.sections[idx]
	n := uint64(4)
	if wide {
		n = 8
	}
	if !s.inFile || off > s.Size || s.Size-off < n {
		return 0
	}
	if wide {
		return int64(f.order.Uint64(f.data[s.Offset+off:]))
	}
	return int64(int32(f.order.Uint32(f.data[s.Offset+off:])))
}
