package modfiletest_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
)

// section is what debug/elf reads back of a Section.
type section struct {
	Name    string
	Type    elf.SectionType
	Flags   elf.SectionFlag
	Data    string
	Link    uint32
	Info    uint32
	Entsize uint64
}

func TestELF(t *testing.T) {
	secs := []modfiletest.Section{
		{Name: ".modinfo", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Data: []byte("license=GPL\x00")},
		{Name: "__versions", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Data: []byte("odd length")},
		{Name: ".symtab", Type: elf.SHT_SYMTAB, Link: 4, Info: 1, Entsize: 24, Data: make([]byte, 24)},
		{Name: ".strtab", Type: elf.SHT_STRTAB, Data: []byte("\x00")},
	}
	want := []section{
		{Name: ""},
		{".modinfo", elf.SHT_PROGBITS, elf.SHF_ALLOC, "license=GPL\x00", 0, 0, 0},
		{"__versions", elf.SHT_PROGBITS, elf.SHF_ALLOC | elf.SHF_WRITE, "odd length", 0, 0, 0},
		{".symtab", elf.SHT_SYMTAB, 0, string(make([]byte, 24)), 4, 1, 24},
		{".strtab", elf.SHT_STRTAB, 0, "\x00", 0, 0, 0},
		{".shstrtab", elf.SHT_STRTAB, 0, "\x00.modinfo\x00__versions\x00.symtab\x00.strtab\x00.shstrtab\x00", 0, 0, 0},
	}
	for _, tc := range []struct {
		name  string
		is64  bool
		order binary.ByteOrder
		class elf.Class
		data  elf.Data
	}{
		{"32-bit little-endian", false, binary.LittleEndian, elf.ELFCLASS32, elf.ELFDATA2LSB},
		{"32-bit big-endian", false, binary.BigEndian, elf.ELFCLASS32, elf.ELFDATA2MSB},
		{"64-bit little-endian", true, binary.LittleEndian, elf.ELFCLASS64, elf.ELFDATA2LSB},
		{"64-bit big-endian", true, binary.BigEndian, elf.ELFCLASS64, elf.ELFDATA2MSB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := elf.NewFile(bytes.NewReader(modfiletest.ELF(tc.is64, tc.order, elf.EM_S390, secs)))
			if err != nil {
				t.Fatalf("elf.NewFile(ELF(%v, %v, ...)) = %v", tc.is64, tc.order, err)
			}
			if f.Class != tc.class || f.Data != tc.data || f.Type != elf.ET_REL || f.Machine != elf.EM_S390 {
				t.Errorf("header = %v %v %v %v, want %v %v ET_REL EM_S390", f.Class, f.Data, f.Type, f.Machine, tc.class, tc.data)
			}
			if diff := cmp.Diff(want, read(t, f)); diff != "" {
				t.Errorf("sections mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestModule(t *testing.T) {
	const modinfo = "license=GPL\x00name=m\x00"
	img := modfiletest.Module(modinfo)
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("elf.NewFile(Module(%q)) = %v", modinfo, err)
	}
	if f.Class != elf.ELFCLASS64 || f.Data != elf.ELFDATA2LSB || f.Type != elf.ET_REL || f.Machine != elf.EM_X86_64 {
		t.Errorf("header = %v %v %v %v, want ELFCLASS64 ELFDATA2LSB ET_REL EM_X86_64", f.Class, f.Data, f.Type, f.Machine)
	}
	want := []section{
		{Name: ""},
		{".modinfo", elf.SHT_PROGBITS, 0, modinfo, 0, 0, 0},
		{".shstrtab", elf.SHT_STRTAB, 0, "\x00.modinfo\x00.shstrtab\x00", 0, 0, 0},
	}
	if diff := cmp.Diff(want, read(t, f)); diff != "" {
		t.Errorf("Module(%q) sections mismatch (-want +got):\n%s", modinfo, diff)
	}
	if got := string(img[64 : 64+len(modinfo)]); got != modinfo {
		t.Errorf("Module(%q)[64:] = %q, want .modinfo at byte 64", modinfo, got)
	}
}

func read(t *testing.T, f *elf.File) []section {
	t.Helper()
	var got []section
	for _, s := range f.Sections {
		var data []byte
		if s.Type != elf.SHT_NULL {
			var err error
			if data, err = s.Data(); err != nil {
				t.Fatalf("section %q: %v", s.Name, err)
			}
		}
		got = append(got, section{s.Name, s.Type, s.Flags, string(data), s.Link, s.Info, s.Entsize})
	}
	return got
}

func TestSymtabRela(t *testing.T) {
	symtab, strtab := modfiletest.Symtab([]modfiletest.Sym{
		{Name: "f", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_FUNC), Section: 1, Value: 4, Size: 8},
		{Name: "ext", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_NOTYPE)},
	})
	rela := modfiletest.RelaData([]modfiletest.Rela{{Offset: 1, Sym: 2, Type: elf.R_X86_64_PLT32, Addend: -4}})
	img := modfiletest.ELF(true, binary.LittleEndian, elf.EM_X86_64, []modfiletest.Section{
		{Name: ".text", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, Data: make([]byte, 16)},
		{Name: ".rela.text", Type: elf.SHT_RELA, Link: 3, Info: 1, Entsize: 24, Data: rela},
		{Name: ".symtab", Type: elf.SHT_SYMTAB, Link: 4, Info: 1, Entsize: 24, Data: symtab},
		{Name: ".strtab", Type: elf.SHT_STRTAB, Data: strtab},
	})
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	want := []elf.Symbol{
		{Name: "f", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_FUNC), Section: 1, Value: 4, Size: 8},
		{Name: "ext", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_NOTYPE)},
	}
	if diff := cmp.Diff(want, syms); diff != "" {
		t.Errorf("Symbols() mismatch (-want +got):\n%s", diff)
	}
	rd, err := f.Sections[2].Data()
	if err != nil {
		t.Fatal(err)
	}
	if off, info, add := binary.LittleEndian.Uint64(rd), binary.LittleEndian.Uint64(rd[8:]), int64(binary.LittleEndian.Uint64(rd[16:])); off != 1 || info != 2<<32|uint64(elf.R_X86_64_PLT32) || add != -4 {
		t.Errorf("RelaData = offset %d info %#x addend %d, want 1 %#x -4", off, info, add, 2<<32|uint64(elf.R_X86_64_PLT32))
	}
}
