package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
)

func TestMissingConfig(t *testing.T) {
	want, err := parseConfig("# comment\nCONFIG_A=y\nCONFIG_S=\"x y\"\n\nCONFIG_M=m\n")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, have string
		missing    []string
	}{
		{"all there", "CONFIG_A=y\nCONFIG_S=\"x y\"\nCONFIG_M=m\nCONFIG_OTHER=y\n", nil},
		{"not set", "# CONFIG_A is not set\nCONFIG_S=\"x y\"\nCONFIG_M=m\n", []string{"CONFIG_A=y"}},
		{"other value", "CONFIG_A=y\nCONFIG_S=\"x\"\nCONFIG_M=y\n", []string{"CONFIG_M=m", `CONFIG_S="x y"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.missing, missingConfig(tt.have, want)); diff != "" {
				t.Errorf("missingConfig mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := parseConfig("CONFIG_A=y\nnot a setting\n"); err == nil {
		t.Error("parseConfig accepted a line that is not CONFIG_X=value")
	}
}

func TestSecureFragmentParses(t *testing.T) {
	m, err := parseConfig(secureFragment)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"CONFIG_MODULE_SIG", "CONFIG_MODULE_COMPRESS_ZSTD", "CONFIG_MODULE_DECOMPRESS", "CONFIG_MODULE_FORCE_LOAD"} {
		if m[k] != "y" {
			t.Errorf("secure fragment: %s = %q, want y", k, m[k])
		}
	}
	if m["CONFIG_MODULE_SIG_FORCE"] != "" {
		t.Error("secure fragment forces signatures; enforcement must stay a boot parameter")
	}
	if m["CONFIG_SYSTEM_TRUSTED_KEYS"] != `"@TRUSTED_PEM@"` {
		t.Errorf("CONFIG_SYSTEM_TRUSTED_KEYS = %s, want the @TRUSTED_PEM@ placeholder", m["CONFIG_SYSTEM_TRUSTED_KEYS"])
	}
}

func TestEditModinfo(t *testing.T) {
	orig := "license=GPL and additional rights\x00vermagic=6.1.0-56-amd64 SMP mod_unload modversions \x00name=x\x00"
	tests := []struct {
		name, key string
		edit      func(string) string
		want      string
		err       error
	}{
		{"license", "license", func(string) string { return "Proprietary" },
			"license=Proprietary" + string(make([]byte, 14)) + "\x00vermagic=6.1.0-56-amd64 SMP mod_unload modversions \x00name=x\x00", nil},
		{"vermagic", "vermagic", func(old string) string { return ("badmagic " + old)[:len(old)] },
			"license=GPL and additional rights\x00vermagic=badmagic 6.1.0-56-amd64 SMP mod_unload mod\x00name=x\x00", nil},
		{"missing key", "author", func(old string) string { return old }, "", errModinfo},
		{"too long", "name", func(string) string { return "longer" }, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "m.ko")
			if err := os.WriteFile(p, modfiletest.Module(orig), 0o644); err != nil {
				t.Fatal(err)
			}
			err := editModinfo(p, tt.key, tt.edit)
			if tt.want == "" {
				if err == nil || (tt.err != nil && !errors.Is(err, tt.err)) {
					t.Fatalf("editModinfo(%s) = %v, want an error (%v)", tt.key, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("editModinfo(%s) = %v", tt.key, err)
			}
			f, err := elf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := f.Section(".modinfo").Data()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf(".modinfo mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResultCount(t *testing.T) {
	out := `=== RUN   TestA
--- PASS: TestA (0.00s)
=== RUN   TestB
=== RUN   TestB/sub
    --- FAIL: TestB/sub (0.01s)
    --- SKIP: TestB/other (0.00s)
--- FAIL: TestB (0.01s)
    x_test.go:1: --- PASS: not a result line
--- SKIP: TestC (0.00s)
FAIL
`
	var r result
	r.count([]byte(out))
	got := []int{r.Pass, r.Fail, r.Skip}
	if diff := cmp.Diff([]int{1, 2, 2}, got); diff != "" {
		t.Errorf("count (pass, fail, skip) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"TestB/sub", "TestB"}, r.failedNames); diff != "" {
		t.Errorf("failed names mismatch (-want +got):\n%s", diff)
	}
}

func TestKernelList(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
		err  bool
	}{
		{nil, flavours, false},
		{[]string{"all"}, flavours, false},
		{[]string{"secure"}, []string{"secure"}, false},
		{[]string{"debian61,secure"}, []string{"debian61", "secure"}, false},
		{[]string{"debian6"}, nil, true},
	}
	for _, tt := range tests {
		got, err := kernelList(tt.in, flavours)
		if (err != nil) != tt.err {
			t.Errorf("kernelList(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" && !tt.err {
			t.Errorf("kernelList(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestHashOfLengthPrefixed(t *testing.T) {
	if hashStrings("ab", "c") == hashStrings("a", "bc") {
		t.Error(`hashStrings("ab", "c") == hashStrings("a", "bc")`)
	}
	if hashStrings("x") != hashStrings("x") {
		t.Error("hashStrings is not deterministic")
	}
}

func TestExtractVmlinuxRejects(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bzImage")
	if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := extractVmlinux(p); err == nil {
		t.Error("extractVmlinux accepted zeros")
	}
	if err := checkPVH(modfiletest.Module("x=y\x00")); !errors.Is(err, errNoPVH) {
		t.Errorf("checkPVH(ELF without notes) = %v, want %v", err, errNoPVH)
	}
}

func TestModuleSourcesComplete(t *testing.T) {
	for _, m := range moduleNames {
		if _, err := moduleSources.ReadFile("modules/" + m + ".c"); err != nil {
			t.Errorf("module %s: %v", m, err)
		}
	}
	kbuild, err := moduleSources.ReadFile("modules/Kbuild")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range moduleNames {
		if !bytes.Contains(kbuild, []byte(m+".o")) {
			t.Errorf("Kbuild does not build %s.o", m)
		}
	}
}

func TestCopyOutput(t *testing.T) {
	tests := []struct {
		name, in, want string
		status         int
	}{
		{"lines", "a\nb\n@@gokmod-exit 0@@\n", "a\nb\n", 0},
		{"unterminated", "a\nno newline\n@@gokmod-exit 3 +nl@@\n", "a\nno newline", 3},
		{"empty", "@@gokmod-exit 0@@\n", "", 0},
		{"blank last line kept", "a\n\n@@gokmod-exit 0@@\n", "a\n\n", 0},
		{"no marker", "a\nb", "a\nb", -1},
		{"marker-like text", "@@gokmod-exit x@@\n", "@@gokmod-exit x@@\n", -1},
		{"killed", "x\n@@gokmod-exit 137@@\n", "x\n", 137},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			status, err := copyOutput(strings.NewReader(tt.in), &out)
			if err != nil {
				t.Fatal(err)
			}
			if status != tt.status || out.String() != tt.want {
				t.Errorf("copyOutput(%q) = %d, %q; want %d, %q", tt.in, status, out.String(), tt.status, tt.want)
			}
		})
	}
}
