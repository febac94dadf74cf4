package ksym

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const kallsyms = `ffffffff81000000 T _stext
ffffffff8106d4c0 T __fentry__
ffffffff81104b60 T mod_timer
ffffffff81104d00 T ktime_get
ffffffff81200000 A abs_sym
ffffffff822079c0 D jiffies
ffffffff82400000 R __start___ksymtab
ffffffff82400000 r __ksymtab___fentry__
ffffffff8240000c r __ksymtab_jiffies
ffffffff82400018 R __stop___ksymtab
ffffffff82400018 R __start___ksymtab_gpl
ffffffff82400018 r __ksymtab_mod_timer
ffffffff82400024 r __ksymtab_ktime_get
ffffffff82400030 R __stop___ksymtab_gpl
ffffffffc0a08000 t kaidock_export_value	[kaidock_export]
ffffffffc0a0a000 r __ksymtab_kaidock_export_value	[kaidock_export]
ffffffffc0a10000 t kaidock_func	[kaidock]
ffffffffc0a10000 t kaidock_alias	[kaidock]
ffffffffc0a20000 T jiffies	[shadow]
`

func TestParse(t *testing.T) {
	tab, err := Parse(strings.NewReader(kallsyms))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	if tab.Len() != 19 {
		t.Errorf("Len() = %d, want 19", tab.Len())
	}
	tests := []struct {
		name string
		want Symbol
		ok   bool
	}{
		{"mod_timer", Symbol{0xffffffff81104b60, 'T', "mod_timer", ""}, true},
		{"jiffies", Symbol{0xffffffff822079c0, 'D', "jiffies", ""}, true}, // the kernel's before a module's
		{"kaidock_func", Symbol{0xffffffffc0a10000, 't', "kaidock_func", "kaidock"}, true},
		{"nosuch", Symbol{}, false},
	}
	for _, tt := range tests {
		got, ok := tab.Lookup(tt.name)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAt(t *testing.T) {
	tab, err := Parse(strings.NewReader(kallsyms))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr uint64
		name string
		off  uint64
		ok   bool
	}{
		{0xffffffff81104b65, "mod_timer", 5, true},
		{0xffffffff8106d4c0, "__fentry__", 0, true},
		{0xffffffff81200010, "ktime_get", 0xfb310, true}, // the absolute symbol names nothing
		{0xffffffffc0a10004, "kaidock_func", 4, true},    // first of two at one address
		{0xffffffff80000000, "", 0, false},
	}
	for _, tt := range tests {
		s, off, ok := tab.At(tt.addr)
		if ok != tt.ok || s.Name != tt.name || off != tt.off {
			t.Errorf("At(%#x) = %s+%#x, %v; want %s+%#x, %v", tt.addr, s.Name, off, ok, tt.name, tt.off, tt.ok)
		}
	}
}

func TestExport(t *testing.T) {
	tab, err := Parse(strings.NewReader(kallsyms))
	if err != nil {
		t.Fatal(err)
	}
	if !tab.HasExports() {
		t.Error("HasExports() = false, want true")
	}
	tests := []struct {
		name string
		want Export
		ok   bool
	}{
		{"jiffies", Export{Symbol{0xffffffff822079c0, 'D', "jiffies", ""}, false}, true},
		{"mod_timer", Export{Symbol{0xffffffff81104b60, 'T', "mod_timer", ""}, true}, true},
		{"ktime_get", Export{Symbol{0xffffffff81104d00, 'T', "ktime_get", ""}, true}, true},
		{"kaidock_export_value", Export{Symbol{0xffffffffc0a08000, 't', "kaidock_export_value", "kaidock_export"}, false}, true},
		{"_stext", Export{}, false}, // in the table but not exported
		{"kaidock_func", Export{}, false},
	}
	for _, tt := range tests {
		got, ok := tab.Export(tt.name)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Export(%q) = %+v, %v; want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	tab.AddExport(Export{Symbol{0xffffffffc0b00000, 'T', "offline_sym", "other"}, true})
	if got, ok := tab.Export("offline_sym"); !ok || !got.GPLOnly || got.Module != "other" {
		t.Errorf("Export(offline_sym) after AddExport = %+v, %v", got, ok)
	}
	if s, off, ok := tab.At(0xffffffffc0b00001); !ok || s.Name != "offline_sym" || off != 1 {
		t.Errorf("At after AddExport = %s+%d, %v", s.Name, off, ok)
	}
}

func TestSystemMapWithoutExports(t *testing.T) {
	tab, err := Parse(strings.NewReader("ffffffff81000000 T _stext\nffffffff81000100 T foo\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tab.HasExports() {
		t.Error("HasExports() = true for a table without __ksymtab_ entries")
	}
	if diff := cmp.Diff([]Symbol{{0xffffffff81000000, 'T', "_stext", ""}, {0xffffffff81000100, 'T', "foo", ""}}, tab.Symbols()); diff != "" {
		t.Errorf("Symbols() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
	}{
		{"empty", "", ErrEmpty},
		{"blank lines", "\n\n", ErrEmpty},
		{"hidden", "0000000000000000 T a\n0000000000000000 T b\n", ErrHidden},
		{"placeholder", "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n", ErrPlaceholder},
		{"two fields", "ffffffff81000000 T\n", ErrSyntax},
		{"five fields", "ffffffff81000000 T a [m] x\n", ErrSyntax},
		{"bad address", "fffffffg81000000 T a\n", ErrSyntax},
		{"address too long", "1ffffffff810000000 T a\n", ErrSyntax},
		{"long type", "ffffffff81000000 TT a\n", ErrSyntax},
		{"module without brackets", "ffffffff81000000 T a m\n", ErrSyntax},
		{"empty module", "ffffffff81000000 T a []\n", ErrSyntax},
		{"line too long", "ffffffff81000000 T " + strings.Repeat("a", MaxLine) + "\n", ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	if _, err := Open(t.TempDir() + "/nosuch"); err == nil {
		t.Error("Open(missing file) = nil error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(kallsyms))
	f.Add([]byte("ffffffff81000000 T a\n0 A b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := Parse(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, s := range tab.Symbols() {
			tab.Lookup(s.Name)
			tab.At(s.Addr)
			tab.Export(s.Name)
		}
	})
}
