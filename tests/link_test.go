package tests

// The library linker against the live kernel: load kaidock and its
// companions, link the same files with pkg/link from /sys/module/*/sections
// and /proc/kallsyms, read what the kernel actually has at every
// relocation site from /proc/kcore, and compare.

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gokmod/gokmod/pkg/ksym"
	"github.com/gokmod/gokmod/pkg/link"
	"github.com/gokmod/gokmod/pkg/loader"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

// kcore reads kernel memory through /proc/kcore, an ELF core file with a
// PT_LOAD segment per mapped range.
type kcore struct {
	f     *os.File
	progs []*elf.Prog
}

func openKcore(t *testing.T) *kcore {
	t.Helper()
	f, err := os.Open("/proc/kcore")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no /proc/kcore: this kernel is built without CONFIG_PROC_KCORE (the secure flavour's tinyconfig)")
	}
	if err != nil {
		t.Skipf("/proc/kcore: %v (lockdown?)", err)
	}
	t.Cleanup(func() { f.Close() })
	ef, err := elf.NewFile(f)
	if err != nil {
		t.Fatalf("/proc/kcore: %v", err)
	}
	k := &kcore{f: f}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			k.progs = append(k.progs, p)
		}
	}
	return k
}

func (k *kcore) read(addr uint64, n int) ([]byte, error) {
	for _, p := range k.progs {
		if addr >= p.Vaddr && addr-p.Vaddr+uint64(n) <= p.Memsz {
			b := make([]byte, n)
			_, err := k.f.ReadAt(b, int64(p.Off+addr-p.Vaddr))
			return b, err
		}
	}
	return nil, fmt.Errorf("%#x: no PT_LOAD segment of /proc/kcore covers it", addr)
}

func TestLinkMatchesKernel(t *testing.T) {
	b := newBed(t)
	kc := openKcore(t)
	mods := []string{"kaidock", "kaidock_export", "kaidock_user", "kaidock_params", "kaidock_sites"}
	b.cleanup("kaidock", "kaidock_user", "kaidock_export", "kaidock_params", "kaidock_sites")
	for _, m := range mods {
		if err := loader.Load(b.module(m), loader.Options{}); err != nil {
			t.Fatalf("Load(%s) = %v", m, err)
		}
	}
	syms, err := ksym.Open("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	cpu := link.DetectCPU(root())
	vuln := func(n string) string {
		v, _ := os.ReadFile("/sys/devices/system/cpu/vulnerabilities/" + n)
		return strings.TrimSpace(string(v))
	}
	t.Logf("CPU as detected: %s (spectre_v2 %q, retbleed %q, spec_rstack_overflow %q)", cpu,
		vuln("spectre_v2"), vuln("retbleed"), vuln("spec_rstack_overflow"))
	sites, patched, asPredicted, predicted, skippedInit := 0, 0, 0, 0, 0
	kinds := map[link.PatchKind]int{}
	for _, m := range mods {
		secs, err := sysmod.Sections(root(), m)
		if err != nil {
			t.Fatalf("Sections(%s) = %v", m, err)
		}
		im, err := link.Open(b.module(m), link.Config{Sections: secs, Symbols: syms, CPU: cpu})
		if err != nil {
			t.Fatalf("link %s: %v", m, err)
		}
		for _, imp := range im.Imports {
			if s, ok := syms.Lookup(imp.Name); !ok || s.Addr != imp.Addr {
				t.Errorf("%s: import %s resolved to %#x, kallsyms has %#x", m, imp.Name, imp.Addr, s.Addr)
			}
		}
		for _, r := range im.Relocs {
			if r.Size == 0 {
				continue
			}
			if r.Init {
				// .init sections are freed once the module's init returns.
				skippedInit++
				continue
			}
			got, err := kc.read(r.Addr, r.Size)
			if err != nil {
				t.Fatalf("%s: read %s+%#x: %v", m, r.Section, r.Offset, err)
			}
			sites++
			if bytes.Equal(got, r.After) {
				continue
			}
			ps := im.PatchesAt(r.Addr, r.Size)
			if len(ps) == 0 {
				t.Errorf("%s: %s+%#x (%v %s%+d): kernel has % x, linked % x, and no post-link patch is marked there",
					m, r.Section, r.Offset, r.Type, r.Symbol, r.Addend, got, r.After)
				continue
			}
			patched++
			kinds[ps[0].Kind]++
			if want := predictedField(r, ps); want != nil {
				asPredicted++
				if !bytes.Equal(got, want) {
					t.Errorf("%s: %s+%#x (%v %s%+d): kernel has % x, predicted % x (%s)", m, r.Section, r.Offset, r.Type, r.Symbol, r.Addend, got, want, ps[0].Note)
				}
			}
			if testing.Verbose() {
				t.Logf("%s: %s+%#x %v %s%+d: kernel % x, linked % x: %s", m, r.Section, r.Offset, r.Type, r.Symbol, r.Addend, got, r.After, ps[0].Note)
			}
		}
		// Every predicted rewrite must be what the kernel wrote.
		for _, p := range im.Patches {
			if p.Becomes == nil || strings.HasPrefix(p.Section, ".init") {
				continue
			}
			got, err := kc.read(p.Addr, len(p.Becomes))
			if err != nil {
				t.Fatalf("%s: read %s+%#x: %v", m, p.Section, p.Offset, err)
			}
			predicted++
			if !bytes.Equal(got, p.Becomes) {
				t.Errorf("%s: %s at %s+%#x: kernel has % x, predicted % x (%s)", m, p.Kind, p.Section, p.Offset, got, p.Becomes, p.Note)
			}
		}
	}
	if sites == 0 {
		t.Fatal("no relocation site compared")
	}
	t.Logf("link: %d relocation sites compared on %s, %d patched sites as marked %v, %d of them with the predicted bytes; %d predicted rewrites checked whole; %d sites in .init sections skipped (freed after init)",
		sites, b.flavour, patched, kinds, asPredicted, predicted, skippedInit)
}

// TestLinkRefusesAsKernel links the modules the kernel refuses against the
// live kallsyms and checks that the library's message is the kernel's.
func TestLinkRefusesAsKernel(t *testing.T) {
	b := newBed(t)
	syms, err := ksym.Open("/proc/kallsyms")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ mod, symbol string }{
		{"kaidock_unknownsym", "kaidock_no_such_symbol"},
		{"kaidock_gplonly", "ktime_get"},
	} {
		if tc.mod == "kaidock_gplonly" && !syms.HasExports() {
			t.Logf("%s: skipped: /proc/kallsyms lists no __ksymtab_ entries (no CONFIG_KALLSYMS_ALL), so GPL-only exports cannot be told", tc.mod)
			continue
		}
		path := b.module(tc.mod)
		k := b.kmsg()
		if err := loader.Load(path, loader.Options{}); err == nil {
			unloadAfter(t, tc.mod)
			t.Fatalf("Load(%s) succeeded, want unknown symbol", tc.mod)
		}
		recs, _ := k.Read()
		var kernelLine string
		for _, r := range recs {
			if strings.Contains(r.Message, "Unknown symbol") {
				kernelLine = r.Message
			}
		}
		m, err := modfile.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		_, err = link.Link(m, link.Config{Sections: link.Layout(m, link.DefaultBase), Symbols: syms})
		var ke *link.KernelError
		if !errors.As(err, &ke) || !errors.Is(err, link.ErrUnknownSymbol) {
			t.Errorf("link %s = %v, want a KernelError for an unknown symbol", tc.mod, err)
			continue
		}
		want := tc.mod + ": Unknown symbol " + tc.symbol + " (err -2)"
		if !strings.HasPrefix(ke.Msg, want) || kernelLine != want {
			t.Errorf("link %s: message %q, kernel logged %q, want both to start %q", tc.mod, ke.Msg, kernelLine, want)
		}
		t.Logf("%s: kernel %q, library %q", tc.mod, kernelLine, ke.Msg)
	}
}

// predictedField is what the patches ps predict for r's field, or nil
// when one of them is not predicted.
func predictedField(r link.Reloc, ps []link.Patch) []byte {
	want := bytes.Clone(r.After)
	for _, p := range ps {
		if p.Becomes == nil {
			return nil
		}
		for i := range want {
			if a := r.Addr + uint64(i); a >= p.Addr && a-p.Addr < uint64(len(p.Becomes)) {
				want[i] = p.Becomes[a-p.Addr]
			}
		}
	}
	return want
}
