package link

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
)

// patchModule has f: call __fentry__ (listed in __mcount_loc); push %rbp;
// jmp __x86_return_thunk (listed in .return_sites), and an __ex_table.
func patchModule() module {
	rela := func(info uint32, rs ...modfiletest.Rela) modfiletest.Section {
		return modfiletest.Section{Name: ".rela", Type: elf.SHT_RELA, Flags: elf.SHF_INFO_LINK, Link: secSymtab, Info: info, Entsize: 24, Data: modfiletest.RelaData(rs)}
	}
	return module{
		text: []byte{0xe8, 0, 0, 0, 0, 0x55, 0xe9, 0, 0, 0, 0},
		rs: []modfiletest.Rela{
			{Offset: 1, Sym: symExt, Type: elf.R_X86_64_PLT32, Addend: -4},
			{Offset: 7, Sym: symExt, Type: elf.R_X86_64_PLT32, Addend: -4},
		},
		extra: []modfiletest.Section{
			{Name: "__mcount_loc", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Data: make([]byte, 8)},
			rela(7, modfiletest.Rela{Offset: 0, Sym: symFunc, Type: elf.R_X86_64_64}),
			{Name: ".return_sites", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Data: make([]byte, 4)},
			rela(9, modfiletest.Rela{Offset: 0, Sym: symFunc, Type: elf.R_X86_64_PC32, Addend: 6}),
			{Name: "__ex_table", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Data: make([]byte, 12)},
			rela(11, modfiletest.Rela{Offset: 0, Sym: symFunc, Type: elf.R_X86_64_PC32, Addend: 5}),
		},
	}
}

func TestPatches(t *testing.T) {
	f := patchModule().build(t)
	cfg := config(t)
	cfg.Sections = Layout(f, DefaultBase)
	text, mc, ex := cfg.Sections[".text"], cfg.Sections["__mcount_loc"], cfg.Sections["__ex_table"]
	tests := []struct {
		cpu  CPU
		want []Patch
	}{
		{CPU{}, []Patch{
			{Kind: Ftrace, Section: ".text", Addr: text, Len: 5, Becomes: nop5},
			{Kind: ReturnThunk, Section: ".text", Offset: 6, Addr: text + 6, Len: 5, Becomes: retInt3},
			{Kind: KernelData, Section: "__mcount_loc", Addr: mc, Len: 8, Becomes: le64(text)},
			{Kind: KernelData, Section: "__ex_table", Addr: ex, Len: 12},
		}},
		{CPU{ReturnThunk: true, FtraceActive: true}, []Patch{
			{Kind: Ftrace, Section: ".text", Addr: text, Len: 5},
			{Kind: ReturnThunk, Section: ".text", Offset: 6, Addr: text + 6, Len: 5},
			{Kind: KernelData, Section: "__mcount_loc", Addr: mc, Len: 8, Becomes: le64(text)},
			{Kind: KernelData, Section: "__ex_table", Addr: ex, Len: 12},
		}},
	}
	for _, tt := range tests {
		cfg.CPU = tt.cpu
		im, err := Link(f, cfg)
		if err != nil {
			t.Fatalf("Link = %v", err)
		}
		// One entry: sorting leaves __ex_table as linked.
		tt.want[len(tt.want)-1].Becomes = im.Section("__ex_table").After
		if diff := cmp.Diff(tt.want, im.Patches, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Note" }, cmp.Ignore())); diff != "" {
			t.Errorf("CPU %s: Patches mismatch (-want +got):\n%s", tt.cpu, diff)
		}
	}

	cfg.CPU = CPU{}
	im, err := Link(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := im.Disassemble(im.Symbols[0], func(addr uint64) string {
		if addr == extAddr {
			return "ext"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	type line struct{ Before, After, Patched string }
	var got []line
	for _, l := range lines[:3] {
		got = append(got, line{l.BeforeText, l.AfterText, l.PatchedText})
	}
	want := []line{
		{"callq .+0x0", "callq 0xffffffff81000000 <ext>", "nopl (%rax,%rax)"},
		{"push %rbp", "push %rbp", ""},
		{"jmpq 0xb", "jmpq 0xffffffff81000000 <ext>", "retq; int3; int3; int3; int3"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Disassemble mismatch (-want +got):\n%s", diff)
	}
	if !bytes.Equal(lines[2].Before, []byte{0xe9, 0, 0, 0, 0}) || len(lines[2].Relocs) != 1 {
		t.Errorf("line 3: before % x, %d relocations", lines[2].Before, len(lines[2].Relocs))
	}
}

func TestParseCPU(t *testing.T) {
	c, err := ParseCPU("rethunk,retpoline,calldepth,ibt,ftrace")
	if err != nil || c != (CPU{true, true, true, true, true}) || c.String() != "rethunk,retpoline,calldepth,ibt,ftrace" {
		t.Errorf("ParseCPU(all) = %+v, %v", c, err)
	}
	if c, err := ParseCPU("none"); err != nil || c != (CPU{}) || c.String() != "none" {
		t.Errorf("ParseCPU(none) = %+v, %v", c, err)
	}
	if _, err := ParseCPU("bogus"); err == nil {
		t.Error("ParseCPU(bogus) = nil error")
	}
}

func TestSortedTables(t *testing.T) {
	mc := append(append(le64(0xffffffffc0003000), le64(0xffffffffc0001000)...), le64(0xffffffffc0002000)...)
	want := append(append(le64(0xffffffffc0001000), le64(0xffffffffc0002000)...), le64(0xffffffffc0003000)...)
	if got := sortedMcount(mc); !bytes.Equal(got, want) {
		t.Errorf("sortedMcount = % x, want % x", got, want)
	}
	if got := sortedMcount(mc[:5]); got != nil {
		t.Errorf("sortedMcount(5 bytes) = % x, want nil", got)
	}

	// .orc_unwind_ip at 0x1000: entries for 0x3000, 0x2000 (a real entry)
	// and 0x2000 (a terminator), which sorts before the real one.
	rel := func(slot, ip uint64) []byte { return le32(ip - (0x1000 + 4*slot)) }
	ip := append(append(rel(0, 0x3000), rel(1, 0x2000)...), rel(2, 0x2000)...)
	entry := func(flags uint16) []byte { return binary.LittleEndian.AppendUint16([]byte{0, 0, 0, 0}, flags) }
	for _, tt := range []struct {
		kernel     string
		real, term uint16 // flags of the real entry and of the terminator
	}{
		{"6.1.0-56-amd64", 0x0004, 0x0000},       // sp_reg SP vs undefined
		{"6.12.117+deb12-amd64", 0x0104, 0x0000}, // type CALL vs UNDEFINED
	} {
		im := &Image{Kernel: tt.kernel, Sections: []*Section{
			{Name: ".orc_unwind_ip", Addr: 0x1000, Size: 12, After: ip},
			{Name: ".orc_unwind", Addr: 0x2000, Size: 18, After: append(append(entry(tt.real), entry(tt.real)...), entry(tt.term)...)},
		}}
		want := append(append(rel(0, 0x2000), rel(1, 0x2000)...), rel(2, 0x3000)...)
		if got := im.sortedORC(im.Sections[0]); !bytes.Equal(got, want) {
			t.Errorf("%s: sortedORC = % x, want % x", tt.kernel, got, want)
		}
		// Two real entries at one address: the kernel's order is not known.
		im.Sections[1].After = append(append(entry(tt.real), entry(tt.real)...), entry(tt.real)...)
		if got := im.sortedORC(im.Sections[0]); got != nil {
			t.Errorf("%s: sortedORC with a tie = % x, want nil", tt.kernel, got)
		}
	}
}

func TestStaticCall(t *testing.T) {
	rela := func(info uint32, rs ...modfiletest.Rela) modfiletest.Section {
		return modfiletest.Section{Name: ".rela", Type: elf.SHT_RELA, Flags: elf.SHF_INFO_LINK, Link: secSymtab, Info: info, Entsize: 24, Data: modfiletest.RelaData(rs)}
	}
	for _, tt := range []struct {
		name  string
		flags int64 // in the key field
		op    byte
	}{
		{"call", 0, 0xe8},
		{"tail call", 1, 0xe9},
	} {
		// A call at .text+0 to a trampoline; the key, at .data+0, holds f+0x10.
		m := module{
			text: []byte{0xe8, 0, 0, 0, 0},
			rs:   []modfiletest.Rela{{Offset: 1, Sym: symExt, Type: elf.R_X86_64_PLT32, Addend: -4}},
			extra: []modfiletest.Section{
				rela(secData, modfiletest.Rela{Offset: 0, Sym: symFunc, Type: elf.R_X86_64_64, Addend: 0x10}),
				{Name: ".static_call_sites", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Data: make([]byte, 8)},
				rela(8,
					modfiletest.Rela{Offset: 0, Sym: symFunc, Type: elf.R_X86_64_PC32},
					modfiletest.Rela{Offset: 4, Sym: symData, Type: elf.R_X86_64_PC32, Addend: tt.flags}),
			},
		}
		f := m.build(t)
		cfg := config(t)
		cfg.Sections = Layout(f, DefaultBase)
		im, err := Link(f, cfg)
		if err != nil {
			t.Fatalf("%s: Link = %v", tt.name, err)
		}
		var got *Patch
		for i := range im.Patches {
			if im.Patches[i].Kind == StaticCall {
				got = &im.Patches[i]
			}
		}
		want := []byte{tt.op, 0x0b, 0, 0, 0} // to .text+0x10 from .text+5
		if got == nil || got.Addr != cfg.Sections[".text"] || !bytes.Equal(got.Becomes, want) {
			t.Errorf("%s: static call patch = %+v, want at .text+0 becoming % x", tt.name, got, want)
		}
	}
}

func TestSortedRel(t *testing.T) {
	// Two __ex_table entries at 0x1000, for instructions at 0x3000 and
	// 0x2000 with fixups at 0x5000 and 0x4000 and data 7 and 9.
	at := uint64(0x1000)
	ent := func(slot int, insn, fixup uint64, data uint32) []byte {
		b := le32(insn - (at + uint64(12*slot)))
		b = append(b, le32(fixup-(at+uint64(12*slot)+4))...)
		return binary.LittleEndian.AppendUint32(b, data)
	}
	ex := &Section{Name: "__ex_table", Addr: at, After: append(ent(0, 0x3000, 0x5000, 7), ent(1, 0x2000, 0x4000, 9)...)}
	want := append(ent(0, 0x2000, 0x4000, 9), ent(1, 0x3000, 0x5000, 7)...)
	byInsn := func(e []uint64) []uint64 { return e[:1] }
	if got := sortedRel(ex, 12, []relField{{0, 4}, {4, 4}}, byInsn, nil); !bytes.Equal(got, want) {
		t.Errorf("sortedRel(__ex_table) = % x, want % x", got, want)
	}
	// Same instruction twice: the kernel's order is not known.
	ex.After = append(ent(0, 0x3000, 0x5000, 7), ent(1, 0x3000, 0x4000, 9)...)
	if got := sortedRel(ex, 12, []relField{{0, 4}, {4, 4}}, byInsn, nil); got != nil {
		t.Errorf("sortedRel with a tie = % x, want nil", got)
	}
	// __jump_table: by key (flags in its low bits ignored), then code.
	jent := func(slot int, code, target, key uint64) []byte {
		base := at + uint64(16*slot)
		b := append(le32(code-base), le32(target-(base+4))...)
		return append(b, le64(key-(base+8))...)
	}
	jt := &Section{Name: "__jump_table", Addr: at, After: append(append(
		jent(0, 0x2100, 0x2200, 0x9001), jent(1, 0x2000, 0x2300, 0x8000)...), jent(2, 0x1f00, 0x2400, 0x9000)...)}
	wantJT := append(append(jent(0, 0x2000, 0x2300, 0x8000), jent(1, 0x1f00, 0x2400, 0x9000)...), jent(2, 0x2100, 0x2200, 0x9001)...)
	byKey := func(e []uint64) []uint64 { return []uint64{e[2] &^ 3, e[0]} }
	if got := sortedRel(jt, 16, []relField{{0, 4}, {4, 4}, {8, 8}}, byKey, nil); !bytes.Equal(got, wantJT) {
		t.Errorf("sortedRel(__jump_table) = % x, want % x", got, wantJT)
	}
}
