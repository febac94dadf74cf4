package link

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/pkg/ksym"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
)

// The synthetic module's section indexes and symbols.
const (
	secText    = 1
	secRela    = 2
	secData    = 3
	secModinfo = 4
	secSymtab  = 5
	secStrtab  = 6

	symData    = 1 // the .data section symbol
	symFunc    = 2 // f, at .text+0
	symExt     = 3 // ext, undefined, from the kernel
	symWeak    = 4 // weak_ext, undefined and weak, defined nowhere
	symAbs     = 5 // small, SHN_ABS 0x1234
	symAbsHigh = 6 // high, SHN_ABS 0x80000000
	symGPL     = 7 // gpl_ext, undefined, a GPL-only export
)

// Addresses, as variables: PC-relative values wrap around in uint64.
var (
	textAddr uint64 = 0xffffffffc0000000
	dataAddr uint64 = 0xffffffffc0002000
	extAddr  uint64 = 0xffffffff81000000
	gplAddr  uint64 = 0xffffffff81000100
)

var kernelSyms = `ffffffff81000000 T ext
ffffffff81000100 T gpl_ext
ffffffff82000000 R __start___ksymtab
ffffffff82000000 r __ksymtab_ext
ffffffff8200000c R __stop___ksymtab
ffffffff8200000c R __start___ksymtab_gpl
ffffffff8200000c r __ksymtab_gpl_ext
ffffffff82000018 R __stop___ksymtab_gpl
`

// module is a synthetic x86-64 module whose .text (32 bytes, zero unless
// text says otherwise) carries the relocations rs.
type module struct {
	text    []byte
	rs      []modfiletest.Rela
	license string
	relType elf.SectionType
	extra   []modfiletest.Section // appended; the first has index 7
}

func (m module) build(t testing.TB) *modfile.File {
	t.Helper()
	text := make([]byte, 32)
	copy(text, m.text)
	symtab, strtab := modfiletest.Symtab([]modfiletest.Sym{
		{Info: elf.ST_INFO(elf.STB_LOCAL, elf.STT_SECTION), Section: secData},
		{Name: "f", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_FUNC), Section: secText, Size: 32},
		{Name: "ext", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_NOTYPE)},
		{Name: "weak_ext", Info: elf.ST_INFO(elf.STB_WEAK, elf.STT_NOTYPE)},
		{Name: "small", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_NOTYPE), Section: uint16(elf.SHN_ABS), Value: 0x1234},
		{Name: "high", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_NOTYPE), Section: uint16(elf.SHN_ABS), Value: 0x80000000},
		{Name: "gpl_ext", Info: elf.ST_INFO(elf.STB_GLOBAL, elf.STT_NOTYPE)},
	})
	lic := m.license
	if lic == "" {
		lic = "GPL"
	}
	relType := m.relType
	if relType == 0 {
		relType = elf.SHT_RELA
	}
	img := modfiletest.ELF(true, binary.LittleEndian, elf.EM_X86_64, append([]modfiletest.Section{
		{Name: ".text", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_EXECINSTR, Data: text},
		{Name: ".rela.text", Type: relType, Flags: elf.SHF_INFO_LINK, Link: secSymtab, Info: secText, Entsize: 24, Data: modfiletest.RelaData(m.rs)},
		{Name: ".data", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Data: make([]byte, 16)},
		{Name: ".modinfo", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Data: []byte("license=" + lic + "\x00name=synth\x00vermagic=6.12.0 SMP mod_unload \x00")},
		{Name: ".symtab", Type: elf.SHT_SYMTAB, Link: secStrtab, Info: symFunc, Entsize: 24, Data: symtab},
		{Name: ".strtab", Type: elf.SHT_STRTAB, Data: strtab},
	}, m.extra...))
	f, err := modfile.NewFileBytes(img)
	if err != nil {
		t.Fatalf("NewFileBytes: %v", err)
	}
	return f
}

func config(t testing.TB) Config {
	t.Helper()
	syms, err := ksym.Parse(strings.NewReader(kernelSyms))
	if err != nil {
		t.Fatal(err)
	}
	return Config{Sections: map[string]uint64{".text": textAddr, ".data": dataAddr}, Symbols: syms}
}

func le32(v uint64) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func TestRelocationTypes(t *testing.T) {
	tests := []struct {
		name  string
		r     modfiletest.Rela
		value uint64
		bytes []byte // written at .text+r.Offset
	}{
		{"NONE writes nothing", modfiletest.Rela{Offset: 4, Sym: symExt, Type: elf.R_X86_64_NONE}, 0, nil},
		{"64 to an import", modfiletest.Rela{Offset: 8, Sym: symExt, Type: elf.R_X86_64_64, Addend: 8}, extAddr + 8, le64(extAddr + 8)},
		{"64 to a section", modfiletest.Rela{Offset: 8, Sym: symData, Type: elf.R_X86_64_64, Addend: 4}, dataAddr + 4, le64(dataAddr + 4)},
		{"64 to a weak symbol nobody defines", modfiletest.Rela{Offset: 8, Sym: symWeak, Type: elf.R_X86_64_64}, 0, le64(0)},
		{"32 in range", modfiletest.Rela{Offset: 4, Sym: symAbs, Type: elf.R_X86_64_32, Addend: 1}, 0x1235, le32(0x1235)},
		{"32S sign-extends", modfiletest.Rela{Offset: 3, Sym: symData, Type: elf.R_X86_64_32S}, dataAddr, le32(dataAddr)},
		{"PC32", modfiletest.Rela{Offset: 1, Sym: symExt, Type: elf.R_X86_64_PC32, Addend: -4}, extAddr - 4 - (textAddr + 1), le32(extAddr - 4 - (textAddr + 1))},
		{"PLT32", modfiletest.Rela{Offset: 1, Sym: symExt, Type: elf.R_X86_64_PLT32, Addend: -4}, extAddr - 4 - (textAddr + 1), le32(extAddr - 4 - (textAddr + 1))},
		{"PLT32 within the module", modfiletest.Rela{Offset: 1, Sym: symFunc, Type: elf.R_X86_64_PLT32, Addend: 0x10 - 4}, 0x10 - 4 - 1, le32(0x10 - 4 - 1)},
		{"PC32 backwards", modfiletest.Rela{Offset: 20, Sym: symFunc, Type: elf.R_X86_64_PC32, Addend: -4}, textAddr - (textAddr + 24), le32(textAddr - (textAddr + 24))},
		{"PC64", modfiletest.Rela{Offset: 16, Sym: symData, Type: elf.R_X86_64_PC64}, dataAddr - (textAddr + 16), le64(dataAddr - (textAddr + 16))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := module{rs: []modfiletest.Rela{tt.r}}.build(t)
			im, err := Link(f, config(t))
			if err != nil {
				t.Fatalf("Link = %v", err)
			}
			if len(im.Relocs) != 1 {
				t.Fatalf("Link: %d relocations, want 1", len(im.Relocs))
			}
			r := im.Relocs[0]
			if r.Value != tt.value || r.Size != len(tt.bytes) || !bytes.Equal(r.After, tt.bytes) {
				t.Errorf("Link: value %#x size %d bytes % x, want %#x %d % x", r.Value, r.Size, r.After, tt.value, len(tt.bytes), tt.bytes)
			}
			want := make([]byte, 32)
			copy(want[tt.r.Offset:], tt.bytes)
			if got := im.Section(".text").After; !bytes.Equal(got, want) {
				t.Errorf("linked .text = % x, want % x", got, want)
			}
			if r.Addr != textAddr+tt.r.Offset || r.Section != ".text" || r.Type != tt.r.Type {
				t.Errorf("Reloc = %+v", r)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name string
		m    module
		want error
		msg  string
	}{
		{"32 overflow", module{rs: []modfiletest.Rela{{Offset: 4, Sym: symExt, Type: elf.R_X86_64_32}}}, ErrOverflow,
			"overflow in relocation type 10 val ffffffff81000000\n`synth' likely not compiled with -mcmodel=kernel"},
		{"32S overflow", module{rs: []modfiletest.Rela{{Offset: 4, Sym: symAbsHigh, Type: elf.R_X86_64_32S}}}, ErrOverflow,
			"overflow in relocation type 11 val 80000000\n`synth' likely not compiled with -mcmodel=kernel"},
		{"32S overflow by the addend", module{rs: []modfiletest.Rela{{Offset: 4, Sym: symAbs, Type: elf.R_X86_64_32S, Addend: 0x7fffffff}}}, ErrOverflow,
			"overflow in relocation type 11 val 80001233\n`synth' likely not compiled with -mcmodel=kernel"},
		{"unsupported type", module{rs: []modfiletest.Rela{{Offset: 4, Sym: symExt, Type: elf.R_X86_64_GOTPCREL}}}, ErrUnknownReloc,
			"synth: Unknown rela relocation: 9"},
		{"nonzero target", module{text: []byte{0, 0, 0, 0, 1}, rs: []modfiletest.Rela{{Offset: 4, Sym: symAbs, Type: elf.R_X86_64_32}}}, ErrNonzero,
			"x86/modules: Invalid relocation target, existing value is nonzero for type 10, loc 0xffffffffc0000004, val 1234"},
		{"GPL-only symbol, proprietary module", module{license: "Proprietary", rs: []modfiletest.Rela{{Offset: 1, Sym: symGPL, Type: elf.R_X86_64_PLT32}}}, ErrUnknownSymbol,
			`synth: Unknown symbol gpl_ext (err -2) [gpl_ext is exported GPL-only and the license "Proprietary" is not GPL-compatible]`},
		{"REL section", module{relType: elf.SHT_REL}, ErrREL, "module synth: REL relocation unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Link(tt.m.build(t), config(t))
			var ke *KernelError
			if !errors.Is(err, tt.want) || !errors.As(err, &ke) {
				t.Fatalf("Link = %v, want a KernelError wrapping %v", err, tt.want)
			}
			if ke.Msg != tt.msg {
				t.Errorf("Link message = %q, want %q", ke.Msg, tt.msg)
			}
		})
	}
}

func TestResolution(t *testing.T) {
	cfg := config(t)
	// A GPL module may use GPL-only exports.
	im, err := Link(module{rs: []modfiletest.Rela{{Offset: 1, Sym: symGPL, Type: elf.R_X86_64_PLT32, Addend: -4}}}.build(t), cfg)
	if err != nil {
		t.Fatalf("Link = %v", err)
	}
	want := []Import{
		{Name: "ext", Addr: extAddr, Found: true},
		{Name: "weak_ext", Weak: true},
		{Name: "gpl_ext", Addr: gplAddr, GPLOnly: true, Found: true},
	}
	if diff := cmp.Diff(want, im.Imports); diff != "" {
		t.Errorf("Imports mismatch (-want +got):\n%s", diff)
	}
	// A symbol the kernel has but does not export is unknown to modules.
	cfg.Symbols.Add(ksym.Symbol{Addr: 0xffffffff81000200, Type: 't', Name: "weak_ext"})
	cfg.Symbols.Add(ksym.Symbol{Addr: 0xffffffff81000300, Type: 't', Name: "unexported"})
	if _, ok := cfg.Symbols.Export("unexported"); ok {
		t.Error("Export(unexported) = true")
	}
	// Without the symbols, every strong import is unknown.
	_, err = Link(module{}.build(t), Config{Sections: cfg.Sections, Symbols: &ksym.Table{}})
	if !errors.Is(err, ErrUnknownSymbol) || !strings.Contains(err.Error(), "synth: Unknown symbol ext (err -2)\nsynth: Unknown symbol gpl_ext (err -2)") {
		t.Errorf("Link without symbols = %v, want both unknown symbols", err)
	}
	// A table without __ksymtab_ entries resolves by name, without the
	// GPL-only rule, and says so.
	byName, err := ksym.Parse(strings.NewReader("ffffffff81000000 T ext\nffffffff81000100 T gpl_ext\n"))
	if err != nil {
		t.Fatal(err)
	}
	im, err = Link(module{license: "Proprietary"}.build(t), Config{Sections: cfg.Sections, Symbols: byName})
	if err != nil || !im.ByName || im.Imports[2].Addr != gplAddr {
		t.Errorf("Link by name = %+v, %v; want ByName and gpl_ext resolved", im, err)
	}
	// A module's export added offline resolves.
	tab, _ := ksym.Parse(strings.NewReader(kernelSyms))
	tab.AddExport(ksym.Export{Symbol: ksym.Symbol{Addr: 0xffffffffc0100000, Type: 'T', Name: "weak_ext", Module: "other"}})
	im, err = Link(module{}.build(t), Config{Sections: cfg.Sections, Symbols: tab})
	if err != nil || im.Imports[1].Addr != 0xffffffffc0100000 || im.Imports[1].Module != "other" {
		t.Errorf("Link with a module export = %+v, %v", im.Imports, err)
	}
}

func TestBadInput(t *testing.T) {
	cfg := config(t)
	tests := []struct {
		name string
		f    func(t testing.TB) *modfile.File
		cfg  Config
		want error
	}{
		{"relocation past the section", func(t testing.TB) *modfile.File {
			return module{rs: []modfiletest.Rela{{Offset: 30, Sym: symExt, Type: elf.R_X86_64_64}}}.build(t)
		}, cfg, ErrBadModule},
		{"symbol index out of range", func(t testing.TB) *modfile.File {
			return module{rs: []modfiletest.Rela{{Offset: 0, Sym: 99, Type: elf.R_X86_64_64}}}.build(t)
		}, cfg, ErrBadModule},
		{"no address for .data", func(t testing.TB) *modfile.File { return module{}.build(t) },
			Config{Sections: map[string]uint64{".text": textAddr}, Symbols: cfg.Symbols}, ErrNoAddress},
		{"not x86-64", func(t testing.TB) *modfile.File {
			f, err := modfile.NewFileBytes(modfiletest.ELF(true, binary.LittleEndian, elf.EM_AARCH64, []modfiletest.Section{
				{Name: ".modinfo", Type: elf.SHT_PROGBITS, Data: []byte("name=x\x00")}}))
			if err != nil {
				t.Fatal(err)
			}
			return f
		}, cfg, ErrMachine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Link(tt.f(t), tt.cfg); !errors.Is(err, tt.want) {
				t.Errorf("Link = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	f := module{}.build(t)
	got := Layout(f, DefaultBase)
	want := map[string]uint64{".text": DefaultBase, ".data": DefaultBase + 0x1000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Layout mismatch (-want +got):\n%s", diff)
	}
}

func FuzzLink(f *testing.F) {
	for _, m := range []module{
		{rs: []modfiletest.Rela{{Offset: 1, Sym: symExt, Type: elf.R_X86_64_PLT32, Addend: -4}, {Offset: 8, Sym: symData, Type: elf.R_X86_64_64}}},
		{rs: []modfiletest.Rela{{Offset: 4, Sym: symAbsHigh, Type: elf.R_X86_64_32S}}},
	} {
		img, err := m.build(f).Image()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(img)
	}
	syms, err := ksym.Parse(strings.NewReader(kernelSyms))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mf, err := modfile.NewFileBytes(data)
		if err != nil {
			return
		}
		im, err := Link(mf, Config{Sections: Layout(mf, DefaultBase), Symbols: syms})
		if err != nil {
			return
		}
		for _, s := range im.Symbols {
			if s.Func {
				im.Disassemble(s, nil)
			}
		}
	})
}
