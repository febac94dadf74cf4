package tests

// The preflight check against the kernel: for every companion module and
// variant, ask preflight.Check, then load it for real, and compare.

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
	"github.com/gokmod/gokmod/pkg/preflight"
)

// testModules are the modules of GOKMOD_MODULES the test tree lists.
var testModules = []string{"kaidock", "kaidock_export", "kaidock_user", "kaidock_badmagic",
	"kaidock_unknownsym", "kaidock_gplonly", "kaidock_params"}

// preflightBuild rebuilds, under the test's directory, the part of the
// kernel's build directory gokmod-vm copies next to the modules
// (vm/buildinfo.go).
func (b *bed) preflightBuild() string {
	b.t.Helper()
	dir := filepath.Join(b.tmp, "build")
	for name, dst := range map[string]string{
		"kernel-Module.symvers":   "Module.symvers",
		"kernel-utsrelease.h":     "include/generated/utsrelease.h",
		"kernel-auto.conf":        "include/config/auto.conf",
		"kernel-signing_key.x509": "certs/signing_key.x509",
		"kernel-System.map":       "System.map",
	} {
		data, err := os.ReadFile(filepath.Join(b.mods, name))
		if os.IsNotExist(err) && (strings.HasSuffix(name, ".x509") || strings.HasSuffix(name, ".map")) {
			continue
		}
		if os.IsNotExist(err) {
			b.t.Skipf("%s has no %s: the VM cache predates vm/buildinfo.go", b.mods, name)
		}
		if err != nil {
			b.t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, dst)), 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	return dir
}

// preflightTree writes a module directory that lists the test modules as
// depmod would after installing them: modules.dep, modules.symbols and
// modules.builtin.
func (b *bed) preflightTree() string {
	b.t.Helper()
	dir := filepath.Join(b.tmp, "tree")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	var dep bytes.Buffer
	for _, m := range testModules {
		if err := os.Symlink(filepath.Join(b.mods, m+".ko"), filepath.Join(dir, m+".ko")); err != nil {
			b.t.Fatal(err)
		}
		fmt.Fprintf(&dep, "%s.ko:\n", m)
	}
	// modules.builtin lists the built-in modules the kernel shows in
	// /sys/module (a directory without initstate), as the kernel's own
	// modules.builtin would list them among all its built-in modules.
	var builtin bytes.Buffer
	ents, err := os.ReadDir("/sys/module")
	if err != nil {
		b.t.Fatal(err)
	}
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join("/sys/module", e.Name(), "initstate")); os.IsNotExist(err) {
			fmt.Fprintf(&builtin, "kernel/%s.ko\n", e.Name())
		}
	}
	files := map[string]string{
		"modules.dep":     dep.String(),
		"modules.symbols": "alias symbol:kaidock_export_value kaidock_export\n",
		"modules.builtin": builtin.String(),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	return dir
}

// trustedCerts are the certificates the secure kernel trusts (vm/keys.go).
func (b *bed) trustedCerts() []*x509.Certificate {
	b.t.Helper()
	var certs []*x509.Certificate
	for _, k := range []string{"rsa2048", "rsa4096", "ecdsa256"} {
		data, err := os.ReadFile(filepath.Join(b.keys, k+".der"))
		if err != nil {
			b.t.Fatal(err)
		}
		c, err := cms.ParseCertificate(data)
		if err != nil {
			b.t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return certs
}

// mountSecurityfs mounts securityfs when it is not, so that the check can
// read the lockdown state.
func mountSecurityfs(t *testing.T) {
	const dir = "/sys/kernel/security"
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) > 0 {
		return
	}
	if err := syscall.Mount("securityfs", dir, "securityfs", 0, ""); err != nil {
		t.Logf("mount securityfs: %v", err)
		return
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
}

// flip returns a copy of data with the byte at off inverted.
func flip(data []byte, off int) []byte {
	out := append([]byte{}, data...)
	out[off] ^= 0xff
	return out
}

// badLayout returns a copy of a module whose module_layout CRC is wrong,
// as if it were built for another kernel.
func badLayout(t testing.TB, data []byte) []byte {
	t.Helper()
	i := bytes.Index(data, []byte("module_layout\x00"))
	if i < 8 {
		t.Skip("module has no module_layout in __versions")
	}
	out := append([]byte{}, data...)
	for j := i - 8; j < i-4; j++ {
		out[j] ^= 0x5a
	}
	return out
}

// renamed returns a copy of a module called name (not longer than the
// original's): the name= string of .modinfo and struct module's name.
func renamed(t testing.TB, data []byte, old, name string) []byte {
	t.Helper()
	out := append([]byte{}, data...)
	pad := func(s string) []byte { return append([]byte(s), make([]byte, len(old)-len(s))...) }
	for _, from := range [][]byte{append([]byte("name="+old), 0), append(append([]byte{0}, old...), 0)} {
		i := bytes.Index(out, from)
		if i < 0 {
			t.Fatalf("no %q in the module", from)
		}
		to := append([]byte{}, from[:len(from)-len(old)-1]...)
		copy(out[i:], append(append(to, pad(name)...), 0))
	}
	return out
}

// TestPreflight runs the check, then the real load, for every case, and
// requires the same verdict and errno; the offline check against the
// kernel's build files must agree too, or say unknown.
func TestPreflight(t *testing.T) {
	b := newBed(t)
	mountSecurityfs(t)
	enforcing := b.enforcing()
	build := b.preflightBuild()
	tree := b.preflightTree()
	var certs []*x509.Certificate
	if enforcing {
		certs = b.trustedCerts()
		keys, err := os.ReadFile("/proc/keys")
		t.Logf("/proc/keys (%v):\n%s", err, keys)
		for _, c := range certs {
			t.Logf("trusted: %s", preflight.KeyDescription(c))
		}
	}
	raw := func(name string) []byte { return b.rawModule(name) }
	signed := func(name string, data []byte, key string) string {
		return b.signBytes(data, key, filepath.Join(b.tmp, name))
	}
	compressed := func(form string) func() string {
		return func() string {
			plain := b.module("kaidock")
			data, err := os.ReadFile(plain)
			if err != nil {
				t.Fatal(err)
			}
			return b.write("kaidock-"+form+".ko.x", compress(t, form, data))
		}
	}
	type tc struct {
		name    string
		file    func() string
		params  string
		preload []string
		only    bool
		// provider is the module the check must name for a missing symbol
		provider string
	}
	cases := []tc{
		{name: "good", file: func() string { return b.module("kaidock") }, params: "loop=1", only: true},
		{name: "unknown parameter", file: func() string { return b.module("kaidock") }, params: "loop=1 bogus=1", only: true},
		{name: "bad int value", file: func() string { return b.module("kaidock_params") }, params: "intparam=abc", only: true},
		{name: "negative uint", file: func() string { return b.module("kaidock_params") }, params: "uintparam=-1", only: true},
		{name: "short out of range", file: func() string { return b.module("kaidock_params") }, params: "shortparam=70000", only: true},
		{name: "good parameters", file: func() string { return b.module("kaidock_params") }, params: "intparam=0x10 boolparam=y charpparam=\"a b\" arrayparam=7", only: true},
		{name: "bool without value", file: func() string { return b.module("kaidock_params") }, params: "boolparam", only: true},
		{name: "int without value", file: func() string { return b.module("kaidock_params") }, params: "intparam", only: true},
		{name: "wrong vermagic", file: func() string { return b.module("kaidock_badmagic") }, only: true},
		{name: "symbol version", file: func() string { return b.prepare("kaidock_crc.ko", badCRC(t, raw("kaidock"))) }, only: true},
		{name: "module_layout version", file: func() string { return b.prepare("kaidock_layout.ko", badLayout(t, raw("kaidock"))) }, only: true},
		{name: "unknown symbol", file: func() string { return b.module("kaidock_unknownsym") }, only: true},
		{name: "gpl-only from non-gpl", file: func() string { return b.module("kaidock_gplonly") }, only: true},
		{name: "user before exporter", file: func() string { return b.module("kaidock_user") }, only: true, provider: "kaidock_export"},
		{name: "user after exporter", file: func() string { return b.module("kaidock_user") }, preload: []string{"kaidock_export"}, only: true},
		{name: "already loaded", file: func() string { return b.module("kaidock") }, preload: []string{"kaidock"}, only: true},
		{name: "named like a built-in module", file: func() string {
			return b.prepare("module.ko", renamed(t, raw("kaidock"), "kaidock", "module"))
		}, only: true},
		{name: "not a module", file: func() string { return b.write("notamodule.ko", []byte("this is not an ELF file\n")) }, only: true},
		{name: "gzip", file: compressed("gzip"), only: true},
		{name: "xz", file: compressed("xz-crc32"), only: true},
		{name: "xz crc64", file: compressed("xz-crc64"), only: true},
		{name: "zstd", file: compressed("zstd"), only: true},
		{name: "lz4", file: compressed("lz4"), only: true},
		{name: "unsigned", file: func() string { return b.write("kaidock_unsigned.ko", raw("kaidock")) }, only: enforcing},
		{name: "untrusted key", file: func() string { return signed("kaidock_untrusted.ko", raw("kaidock"), "untrusted") }, only: enforcing},
		{name: "good signature", file: func() string { return signed("kaidock_signed.ko", raw("kaidock"), "ecdsa256") }, only: enforcing},
		{name: "tampered body", file: func() string {
			p := signed("kaidock_tb.ko", raw("kaidock"), "rsa2048")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			return b.write("kaidock_tb.ko", flip(data, len(data)/3))
		}, only: enforcing},
		{name: "tampered signature", file: func() string {
			p := signed("kaidock_ts.ko", raw("kaidock"), "rsa2048")
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			return b.write("kaidock_ts.ko", flip(data, len(data)-40-8))
		}, only: enforcing},
	}
	var agree, total, offlineSame, offlineUnknown int
	for _, c := range cases {
		if !c.only {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			unloadAfter(t, "kaidock_user", "kaidock_export", "kaidock", "kaidock_params", "kaidock_badmagic", "kaidock_gplonly", "kaidock_unknownsym")
			for _, p := range c.preload {
				if err := loader.Load(b.module(p), loader.Options{Params: "loop=1"}); err != nil {
					t.Fatalf("preload %s: %v", p, err)
				}
			}
			file := c.file()
			live, err := preflight.Live(root(), preflight.LiveOptions{Build: os.DirFS(build), Tree: preflight.NewTree(os.DirFS(tree)), Certs: certs})
			if err != nil {
				t.Fatalf("Live() = %v", err)
			}
			offline, err := preflight.Offline(os.DirFS(build), "build", preflight.OfflineOptions{Tree: preflight.NewTree(os.DirFS(tree)), Certs: certs, Loaded: c.preload})
			if err != nil {
				t.Fatalf("Offline() = %v", err)
			}
			rep, err := preflight.Check(file, c.params, live)
			if err != nil {
				t.Fatalf("Check(%s) = %v", file, err)
			}
			off, err := preflight.Check(file, c.params, offline)
			if err != nil {
				t.Fatalf("Check(%s) offline = %v", file, err)
			}
			k := b.kmsg()
			lerr := loader.Load(file, loader.Options{Params: c.params})
			recs, _ := k.Read()
			var klog []string
			for _, r := range recs {
				klog = append(klog, r.Message)
			}
			errno := kernel.Errno(lerr)
			t.Logf("check: %s %s at %s; kernel: %v; log: %q", rep.Verdict, preflight.ErrnoName(rep.Errno), rep.Step, lerr, klog)
			for _, s := range rep.Steps {
				t.Logf("  %-11s %-7s %s %s", s.Step, s.Verdict, preflight.ErrnoName(s.Errno), s.Detail)
			}
			if c.provider != "" {
				for _, st := range rep.Steps {
					if st.Step == preflight.StepSymbols && strings.Join(st.Providers["kaidock_export_value"], " ") != c.provider {
						t.Errorf("the check names %v as providers of kaidock_export_value, want %s", st.Providers, c.provider)
					}
				}
			}
			total++
			ok := false
			switch rep.Verdict {
			case preflight.Passed:
				ok = lerr == nil
			case preflight.Failed:
				ok = lerr != nil && (rep.Errno == 0 || rep.Errno == errno)
			}
			if ok {
				agree++
			} else {
				t.Errorf("check says %s %s (at %s), the kernel said %v", rep.Verdict, preflight.ErrnoName(rep.Errno), rep.Step, lerr)
			}
			if rep.Verdict == preflight.Failed {
				for _, s := range rep.Steps {
					if s.Step != rep.Step {
						continue
					}
					for _, line := range s.Kernel {
						if !strings.Contains(strings.Join(klog, "\n"), line) {
							t.Errorf("the check predicts the kernel line %q; the kernel logged %q", line, klog)
						}
					}
				}
			}
			switch {
			case off.Verdict == preflight.Unknown:
				offlineUnknown++
			case off.Verdict == rep.Verdict && (off.Errno == 0 || off.Errno == rep.Errno):
				offlineSame++
			default:
				t.Errorf("offline check says %s %s (at %s), the live check %s %s", off.Verdict, preflight.ErrnoName(off.Errno), off.Step, rep.Verdict, preflight.ErrnoName(rep.Errno))
			}
		})
	}
	t.Logf("preflight: %d/%d agree on %s", agree, total, b.flavour)
	t.Logf("preflight offline: %d/%d same verdict, %d unknown, on %s", offlineSame, total, offlineUnknown, b.flavour)
	if agree != total {
		t.Errorf("preflight: %d of %d checks disagree with the kernel", total-agree, total)
	}
}
