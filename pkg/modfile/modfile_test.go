package modfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
	"github.com/gokmod/gokmod/pkg/modsig"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustOpen(t *testing.T, name string) *File {
	t.Helper()
	f, err := Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Open(%q) = %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestParamsFixture(t *testing.T) {
	f := mustOpen(t, "gokmod_params.ko")
	if f.Class() != Class64 || f.ByteOrder() != binary.LittleEndian || f.Machine() != 62 || f.Compression() != compression.None {
		t.Errorf("header = %v %v %d %v, want 64-bit little-endian x86-64 uncompressed", f.Class(), f.ByteOrder(), f.Machine(), f.Compression())
	}
	info, err := f.Info()
	if err != nil {
		t.Fatalf("Info() = %v", err)
	}
	name, err := f.Name()
	if name != "gokmod_params" || err != nil {
		t.Errorf("Name() = %q, %v, want gokmod_params", name, err)
	}
	if got := info.Vermagic(); !strings.HasPrefix(got, "6.1.0-") || !strings.Contains(got, "modversions") {
		t.Errorf("Vermagic() = %q, want a 6.1 modversions vermagic", got)
	}
	if got := info.License(); got != "GPL" {
		t.Errorf("License() = %q, want GPL", got)
	}
	if diff := cmp.Diff([]string{"gokmod:params", "gokmod-test-alias"}, info.Aliases()); diff != "" {
		t.Errorf("Aliases() mismatch (-want +got):\n%s", diff)
	}
	if got := info.Depends(); len(got) != 0 {
		t.Errorf("Depends() = %q, want none", got)
	}
	params, invalid := info.Params()
	wantParams := []Param{
		{Name: "loop", Description: "specify the loop count", Type: "int", HasDesc: true, HasType: true},
		{Name: "count", Description: "an unsigned count", Type: "uint", HasDesc: true, HasType: true},
		{Name: "big", Description: "a long", Type: "long", HasDesc: true, HasType: true},
		{Name: "small", Description: "a short", Type: "short", HasDesc: true, HasType: true},
		{Name: "verbose", Description: "print more", Type: "bool", HasDesc: true, HasType: true},
		{Name: "greeting", Description: "a string", Type: "charp", HasDesc: true, HasType: true},
		{Name: "values", Description: "up to four ints", Type: "array of int", HasDesc: true, HasType: true},
		{Name: "quiet", Type: "int", HasType: true},
	}
	if diff := cmp.Diff(wantParams, params); diff != "" || len(invalid) != 0 {
		t.Errorf("Params() mismatch (-want +got):\n%s\ninvalid: %v", diff, invalid)
	}

	vs, err := f.Versions()
	if err != nil {
		t.Fatalf("Versions() = %v", err)
	}
	if !containsVersion(vs, "module_layout") {
		t.Errorf("Versions() = %v, want module_layout among them", vs)
	}
	exports, err := f.ExportedSymbols()
	if err != nil {
		t.Fatalf("ExportedSymbols() = %v", err)
	}
	for _, e := range exports {
		if !e.HasCRC {
			t.Errorf("export %s has no CRC", e.Name)
		}
	}
	for i := range exports {
		exports[i].CRC, exports[i].HasCRC = 0, false
	}
	wantExports := []Export{
		{Name: "gokmod_params_value"},
		{Name: "gokmod_params_gpl_value", GPLOnly: true},
		{Name: "gokmod_params_ns_value", GPLOnly: true, Namespace: "GOKMOD_TEST"},
	}
	if diff := cmp.Diff(wantExports, exports, sortExports()); diff != "" {
		t.Errorf("ExportedSymbols() mismatch (-want +got):\n%s", diff)
	}
	sig, err := f.Signature()
	if sig != nil || err != nil {
		t.Errorf("Signature() of an unsigned module = %v, %v, want nil, nil", sig, err)
	}
}

func sortExports() cmp.Option {
	return cmp.Transformer("sort", func(in []Export) map[string]Export {
		m := map[string]Export{}
		for _, e := range in {
			m[e.Name] = e
		}
		return m
	})
}

func containsVersion(vs []Version, name string) bool {
	for _, v := range vs {
		if v.Name == name {
			return true
		}
	}
	return false
}

func TestUserFixture(t *testing.T) {
	f := mustOpen(t, "gokmod_user.ko")
	info, err := f.Info()
	if err != nil {
		t.Fatalf("Info() = %v", err)
	}
	if diff := cmp.Diff([]string{"gokmod_params"}, info.Depends()); diff != "" {
		t.Errorf("Depends() mismatch (-want +got):\n%s", diff)
	}
	if v, _ := info.Value("import_ns"); v != "GOKMOD_TEST" {
		t.Errorf(`Value("import_ns") = %q, want GOKMOD_TEST`, v)
	}
	undef, err := f.UndefinedSymbols()
	if err != nil {
		t.Fatalf("UndefinedSymbols() = %v", err)
	}
	found := map[string]Import{}
	for _, u := range undef {
		found[u.Name] = u
	}
	for _, name := range []string{"gokmod_params_value", "gokmod_params_gpl_value", "gokmod_params_ns_value"} {
		if u, ok := found[name]; !ok || !u.HasCRC {
			t.Errorf("UndefinedSymbols() lacks %s with a CRC: %+v", name, u)
		}
	}
	exports, err := f.ExportedSymbols()
	if len(exports) != 0 || err != nil {
		t.Errorf("ExportedSymbols() = %v, %v, want none", exports, err)
	}
}

func TestSignedFixture(t *testing.T) {
	f := mustOpen(t, "gokmod_params.signed.ko")
	sig, err := f.Signature()
	if err != nil || sig == nil {
		t.Fatalf("Signature() = %v, %v, want a signature", sig, err)
	}
	if sig.IDType != modsig.PKCS7 || sig.Signer != "gokmod fixture signing key" || sig.HashAlgo != "sha256" || len(sig.Value) != 256 {
		t.Errorf("Signature() = %s %q %s %d-byte value, want PKCS#7 by the fixture key, sha256, 256 bytes",
			sig.IDType, sig.Signer, sig.HashAlgo, len(sig.Value))
	}
	content, err := f.SignedContent()
	if err != nil {
		t.Fatalf("SignedContent() = %v", err)
	}
	if want := fixture(t, "gokmod_params.ko"); !bytes.Equal(content, want) {
		t.Errorf("SignedContent() is %d bytes, want the %d bytes of the unsigned module", len(content), len(want))
	}
	plain, _ := mustOpen(t, "gokmod_params.ko").Info()
	signed, _ := f.Info()
	if diff := cmp.Diff(plain, signed); diff != "" {
		t.Errorf("Info() of signed and plain differ (-plain +signed):\n%s", diff)
	}
}

func compressed(t testing.TB, format compression.Format, data []byte) []byte {
	t.Helper()
	z, err := compression.Compress(format, data)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestCompressed(t *testing.T) {
	plain := fixture(t, "gokmod_params.signed.ko")
	want, err := NewFileBytes(plain)
	if err != nil {
		t.Fatal(err)
	}
	wantInfo, _ := want.Info()
	wantSig, _ := want.Signature()
	for _, format := range []compression.Format{compression.Gzip, compression.XZ, compression.Zstd, compression.LZ4} {
		t.Run(format.String(), func(t *testing.T) {
			z := compressed(t, format, plain)
			path := filepath.Join(t.TempDir(), "m.ko."+format.String())
			if err := os.WriteFile(path, z, 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			defer f.Close()
			if f.Compression() != format {
				t.Errorf("Compression() = %v, want %v", f.Compression(), format)
			}
			info, err := f.Info()
			if diff := cmp.Diff(wantInfo, info); diff != "" || err != nil {
				t.Errorf("Info() mismatch (-want +got), err %v:\n%s", err, diff)
			}
			sig, err := f.Signature()
			if err != nil || sig == nil || !bytes.Equal(sig.Value, wantSig.Value) {
				t.Errorf("Signature() = %v, %v, want the plain file's", sig, err)
			}
			if img, err := f.Image(); err != nil || !bytes.Equal(img, plain) {
				t.Errorf("Image() differs from the plain file")
			}
		})
	}
}

func TestStrip(t *testing.T) {
	f := mustOpen(t, "gokmod_params.ko")
	img, err := f.StripVersions()
	if err != nil {
		t.Fatalf("StripVersions() = %v", err)
	}
	g, err := NewFileBytes(img)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := f.Section("__versions")
	after, _ := g.Section("__versions")
	if before.Flags&shfAlloc == 0 || after.Flags&shfAlloc != 0 || after.Flags != before.Flags&^shfAlloc {
		t.Errorf("__versions flags %#x -> %#x, want SHF_ALLOC cleared only", before.Flags, after.Flags)
	}
	if n := countDiff(fixture(t, "gokmod_params.ko"), img); n != 1 {
		t.Errorf("StripVersions changed %d bytes, want 1", n)
	}

	img, err = f.StripVermagic()
	if err != nil {
		t.Fatalf("StripVermagic() = %v", err)
	}
	g, _ = NewFileBytes(img)
	info, _ := g.Info()
	orig, _ := f.Info()
	var want Info
	for _, fld := range orig {
		if fld.Key != "vermagic" {
			want = append(want, fld)
		}
	}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("Info() after StripVermagic mismatch (-want +got):\n%s", diff)
	}
	if _, err := g.StripVermagic(); !errors.Is(err, ErrNoVermagic) {
		t.Errorf("StripVermagic() twice = %v, want ErrNoVermagic", err)
	}
}

func countDiff(a, b []byte) int {
	n := 0
	for i := range a {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func TestSynthetic(t *testing.T) {
	vs := []Version{{Name: "module_layout", CRC: 0x12345678}, {Name: "printk", CRC: 0xdeadbeef}}
	for _, tc := range []struct {
		name  string
		is64  bool
		order binary.ByteOrder
		class Class
	}{
		{"32-bit little-endian", false, binary.LittleEndian, Class32},
		{"32-bit big-endian", false, binary.BigEndian, Class32},
		{"64-bit big-endian", true, binary.BigEndian, Class64},
		{"64-bit little-endian", true, binary.LittleEndian, Class64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := modfiletest.ELF(tc.is64, tc.order, 22, []modfiletest.Section{
				{Name: ".modinfo", Type: 1, Flags: 2, Data: []byte("\x00\x00license=GPL\x00alias=a\x00alias=b\x00\x00parm=p:desc\x00parmtype=p:int\x00vermagic=6.1 SMP\x00flag")},
				{Name: "__versions", Type: 1, Flags: 2, Data: versionsSection(tc.is64, tc.order, vs)},
				{Name: ".gnu.linkonce.this_module", Type: 1, Flags: 3, Data: thisModule(tc.is64, "synthetic")},
			})
			f, err := NewFile(bytes.NewReader(img), int64(len(img)))
			if err != nil {
				t.Fatalf("NewFile = %v", err)
			}
			if f.Class() != tc.class || f.ByteOrder() != tc.order || f.Machine() != 22 {
				t.Errorf("header = %v %v %d, want %v %v 22", f.Class(), f.ByteOrder(), f.Machine(), tc.class, tc.order)
			}
			info, err := f.Info()
			want := Info{{"license", "GPL"}, {"alias", "a"}, {"alias", "b"}, {"parm", "p:desc"}, {"parmtype", "p:int"}, {"vermagic", "6.1 SMP"}, {"flag", ""}}
			if diff := cmp.Diff(want, info); diff != "" || err != nil {
				t.Errorf("Info() mismatch (-want +got), err %v:\n%s", err, diff)
			}
			if name, err := f.Name(); name != "synthetic" || err != nil {
				t.Errorf("Name() = %q, %v, want synthetic from .gnu.linkonce.this_module", name, err)
			}
			got, err := f.Versions()
			if diff := cmp.Diff(vs, got); diff != "" || err != nil {
				t.Errorf("Versions() mismatch (-want +got), err %v:\n%s", err, diff)
			}
			stripped, err := f.StripVersions()
			if err != nil {
				t.Fatal(err)
			}
			g, _ := NewFileBytes(stripped)
			if s, _ := g.Section("__versions"); s.Flags != 0 {
				t.Errorf("__versions flags after StripVersions = %#x, want 0", s.Flags)
			}
		})
	}
}

func TestParseInfo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Info
	}{
		{"", nil},
		{"\x00", nil},
		{"a", nil},
		{"\x00\x00a", nil},
		{"ab", Info{{"ab", ""}}},
		{"a=1\x00\x00\x00b=2=3\x00", Info{{"a", "1"}, {"b", "2=3"}}},
		{"\x00k=v", Info{{"k", "v"}}},
	} {
		if diff := cmp.Diff(tc.want, ParseInfo([]byte(tc.in))); diff != "" {
			t.Errorf("ParseInfo(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParams(t *testing.T) {
	info := Info{{"parm", "a:first"}, {"parmtype", "b:int"}, {"parm", "bad"}, {"parmtype", "a:uint"}, {"parm", "a:second"}, {"parm", "c:"}}
	params, invalid := info.Params()
	want := []Param{
		{Name: "c", HasDesc: true},
		{Name: "b", Type: "int", HasType: true},
		{Name: "a", Description: "second", Type: "uint", HasDesc: true, HasType: true},
	}
	if diff := cmp.Diff(want, params); diff != "" {
		t.Errorf("Params() mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Field{{"parm", "bad"}}, invalid); diff != "" {
		t.Errorf("Params() invalid mismatch (-want +got):\n%s", diff)
	}
}

// TestExportsPREL32 checks the Linux 6.5+ layout, where a namespace is
// only reachable through the relocation of struct kernel_symbol's
// namespace_offset field (PREL32: three 32-bit offsets).
func TestExportsPREL32(t *testing.T) {
	o := binary.ByteOrder(binary.LittleEndian)
	// Section indexes: 1 .modinfo, 2 __ksymtab_gpl, 3 .rela__ksymtab_gpl,
	// 4 __ksymtab_strings, 5 .symtab, 6 .strtab, 7 __kcrctab_gpl.
	strtab := []byte("\x00__ksymtab_gokmod_fn\x00__crc_gokmod_fn\x00")
	syms := []synthSym{
		{info: 3, shndx: 4},                                 // 1: section symbol of __ksymtab_strings
		{name: 1, info: 0x11, shndx: 2, size: 12},           // 2: __ksymtab_gokmod_fn, GLOBAL OBJECT
		{name: 21, info: 0x11, shndx: 7, value: 0, size: 4}, // 3: __crc_gokmod_fn
	}
	crc := make([]byte, 4)
	o.PutUint32(crc, 0xfeedface)
	img := modfiletest.ELF(true, o, 62, []modfiletest.Section{
		{Name: ".modinfo", Type: 1, Data: []byte("license=GPL\x00")},
		{Name: "__ksymtab_gpl", Type: 1, Flags: 2, Data: make([]byte, 12)},
		{Name: ".rela__ksymtab_gpl", Type: 4, Link: 5, Info: 2, Entsize: 24, Data: append(
			rela64(o, 4, 1, 2, 0), rela64(o, 8, 1, 2, 10)...)},
		{Name: "__ksymtab_strings", Type: 1, Flags: 2, Data: []byte("gokmod_fn\x00GOKMOD_NS\x00")},
		{Name: ".symtab", Type: 2, Link: 6, Info: 2, Entsize: 24, Data: symtab64(o, syms)},
		{Name: ".strtab", Type: 3, Data: strtab},
		{Name: "__kcrctab_gpl", Type: 1, Flags: 2, Data: crc},
	})
	f, err := NewFileBytes(img)
	if err != nil {
		t.Fatalf("NewFileBytes = %v", err)
	}
	got, err := f.ExportedSymbols()
	want := []Export{{Name: "gokmod_fn", GPLOnly: true, Namespace: "GOKMOD_NS", CRC: 0xfeedface, HasCRC: true}}
	if diff := cmp.Diff(want, got); diff != "" || err != nil {
		t.Errorf("ExportedSymbols() mismatch (-want +got), err %v:\n%s", err, diff)
	}
}
