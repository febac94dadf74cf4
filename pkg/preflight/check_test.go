package preflight

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"math/big"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
)

func base() mod {
	return mod{name: "fixture", undef: []string{"printk"}, versions: goodVersions}
}

// TestSteps checks one module variant per case against the offline
// fixture kernel and looks at the step that decides.
func TestSteps(t *testing.T) {
	gz, err := compression.Compress(compression.Gzip, base().bytes())
	if err != nil {
		t.Fatal(err)
	}
	badVersions := [][2]any{{"module_layout", uint32(0x11111111)}, {"printk", uint32(0xdead)}}
	tests := []struct {
		name      string
		image     []byte
		params    string
		target    func(*Target)
		step      string
		want      Verdict
		wantErrno syscall.Errno
		wantLine  string // a line the kernel logs, when the step fails
	}{
		{name: "plain", image: base().bytes(), step: StepDecompress, want: Passed},
		{name: "gzip", image: gz, step: StepDecompress, want: Passed},
		{name: "corrupt xz", image: append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, make([]byte, 40)...), step: StepDecompress, want: Failed},
		{name: "not elf", image: []byte("not a module, just text that is long enough for an ELF header........"), step: StepELF,
			want: Failed, wantErrno: syscall.ENOEXEC, wantLine: "Invalid ELF header magic"},
		{name: "short", image: []byte("\x7fELF"), step: StepELF, want: Failed, wantErrno: syscall.ENOEXEC, wantLine: "Invalid ELF header len 4"},
		{name: "wrong machine", image: func() []byte { m := base(); m.machine = elf.EM_AARCH64; return m.bytes() }(), step: StepELF,
			want: Failed, wantErrno: syscall.ENOEXEC, wantLine: "Invalid architecture in ELF header: 183"},
		{name: "no this_module", image: func() []byte { m := base(); m.noThis = true; return m.bytes() }(), step: StepELF,
			want: Failed, wantErrno: syscall.ENOEXEC, wantLine: "fixture: No module found in object"},
		{name: "stripped", image: func() []byte { m := base(); m.noSymtab = true; return m.bytes() }(), step: StepELF,
			want: Failed, wantErrno: syscall.ENOEXEC, wantLine: "fixture: module has no symbols (stripped?)"},
		{name: "module_layout matches", image: base().bytes(), step: StepModversions, want: Passed},
		{name: "module_layout differs", image: func() []byte {
			m := base()
			m.versions = [][2]any{{"module_layout", uint32(0x99)}}
			return m.bytes()
		}(), step: StepModversions, want: Failed, wantErrno: syscall.ENOEXEC, wantLine: "fixture: disagrees about version of symbol module_layout"},
		{name: "no __versions, no forced loads", image: func() []byte { m := base(); m.versions = nil; return m.bytes() }(),
			step: StepModversions, want: Failed, wantErrno: syscall.ENOEXEC},
		{name: "no __versions, forced loads", image: func() []byte { m := base(); m.versions = nil; return m.bytes() }(),
			target: func(t *Target) { t.ForceLoad = Yes }, step: StepModversions, want: Passed},
		{name: "no Module.symvers", image: base().bytes(), target: func(t *Target) { t.KernelExports = nil }, step: StepModversions, want: Unknown},
		{name: "vermagic", image: base().bytes(), step: StepVermagic, want: Passed},
		{name: "vermagic differs", image: func() []byte {
			m := base()
			m.info = []string{"license=GPL", "vermagic=6.1.0-test SMP mod_unload modversions "}
			return m.bytes()
		}(), step: StepVermagic, want: Failed, wantErrno: syscall.ENOEXEC,
			wantLine: "fixture: version magic '6.1.0-test SMP mod_unload modversions ' should be '" + testVermagic + "'"},
		{name: "other release with modversions", image: func() []byte {
			m := base()
			m.info = []string{"license=GPL", "vermagic=6.1.0-other SMP preempt mod_unload modversions "}
			return m.bytes()
		}(), step: StepVermagic, want: Passed},
		{name: "other release without modversions", image: func() []byte {
			m := base()
			m.versions = nil
			m.info = []string{"license=GPL", "vermagic=6.1.0-other SMP preempt mod_unload modversions "}
			return m.bytes()
		}(), step: StepVermagic, want: Failed, wantErrno: syscall.ENOEXEC},
		{name: "vermagic unknown", image: base().bytes(), target: func(t *Target) { t.Vermagic = "" }, step: StepVermagic, want: Unknown},
		{name: "no vermagic", image: func() []byte { m := base(); m.info = []string{"license=GPL"}; return m.bytes() }(),
			step: StepVermagic, want: Failed, wantErrno: syscall.ENOEXEC},
		{name: "not loaded", image: base().bytes(), step: StepLoaded, want: Passed},
		{name: "already loaded", image: base().bytes(), target: func(t *Target) { t.Loaded["fixture"] = true }, step: StepLoaded,
			want: Failed, wantErrno: syscall.EEXIST},
		{name: "loaded unknown", image: base().bytes(), target: func(t *Target) { t.Loaded = nil }, step: StepLoaded, want: Unknown},
		{name: "symbols resolve", image: base().bytes(), step: StepSymbols, want: Passed},
		{name: "unknown symbol", image: func() []byte { m := base(); m.undef = append(m.undef, "nosuch"); return m.bytes() }(),
			step: StepSymbols, want: Failed, wantErrno: syscall.ENOENT, wantLine: "fixture: Unknown symbol nosuch (err -2)"},
		{name: "weak unknown symbol", image: func() []byte { m := base(); m.weak = []string{"nosuch"}; return m.bytes() }(),
			step: StepSymbols, want: Passed},
		{name: "gpl-only for a proprietary module", image: func() []byte {
			m := base()
			m.undef = append(m.undef, "ktime_get")
			m.info = []string{"license=Proprietary", "vermagic=" + testVermagic}
			return m.bytes()
		}(), step: StepSymbols, want: Failed, wantErrno: syscall.ENOENT, wantLine: "fixture: Unknown symbol ktime_get (err -2)"},
		{name: "gpl-only for a GPL module", image: func() []byte { m := base(); m.undef = append(m.undef, "ktime_get"); return m.bytes() }(),
			step: StepSymbols, want: Passed},
		{name: "symbol version differs", image: func() []byte { m := base(); m.versions = badVersions; return m.bytes() }(),
			step: StepSymbols, want: Failed, wantErrno: syscall.EINVAL, wantLine: "fixture: disagrees about version of symbol printk"},
		{name: "namespace not imported", image: func() []byte { m := base(); m.undef = append(m.undef, "usb_thing"); return m.bytes() }(),
			step: StepSymbols, want: Failed, wantErrno: syscall.EINVAL, wantLine: "fixture: module uses symbol (usb_thing) from namespace USB_NS, but does not import it."},
		{name: "namespace imported", image: func() []byte {
			m := base()
			m.undef = append(m.undef, "usb_thing")
			m.info = []string{"license=GPL", "vermagic=" + testVermagic, "import_ns=USB_NS"}
			return m.bytes()
		}(), step: StepSymbols, want: Passed},
		{name: "unknown exports", image: base().bytes(), target: func(t *Target) { t.KernelExports = nil }, step: StepSymbols, want: Unknown},
		{name: "parameter", image: base().bytes(), params: "loop=3", step: StepParameters, want: Passed},
		{name: "builtin", image: base().bytes(), target: func(t *Target) { t.Builtin = map[string]bool{"fixture": true} }, step: StepSysfs,
			want: Failed, wantErrno: syscall.EINVAL, wantLine: "fixture: module is already loaded"},
		{name: "builtin unknown", image: base().bytes(), step: StepSysfs, want: Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := offline(t, buildFS(""), OfflineOptions{})
			if tt.target != nil {
				tt.target(tg)
			}
			r := CheckImage(tt.image, tt.params, tg)
			s := step(t, r, tt.step)
			if s.Verdict != tt.want || s.Errno != tt.wantErrno {
				t.Errorf("step %s = %s %s (%s), want %s %s", tt.step, s.Verdict, ErrnoName(s.Errno), s.Detail, tt.want, ErrnoName(tt.wantErrno))
			}
			if tt.wantLine != "" && !strings.Contains(strings.Join(s.Kernel, "\n"), tt.wantLine) {
				t.Errorf("step %s logs %q, want %q", tt.step, s.Kernel, tt.wantLine)
			}
		})
	}
}

// TestProviders names the module to load first for a missing symbol, and
// resolves it once that module is loaded.
func TestProviders(t *testing.T) {
	exporter := mod{name: "exporter", undef: []string{"printk"}, exports: []string{"shared_value"}, versions: goodVersions}
	user := base()
	user.undef = append(user.undef, "shared_value")
	tree := NewTree(treeFS(map[string]string{
		"modules.dep":     "extra/exporter.ko:\n",
		"modules.symbols": "alias symbol:shared_value exporter\n",
		"modules.builtin": "",
	}, map[string][]byte{"extra/exporter.ko": exporter.bytes()}))

	tg := offline(t, buildFS(""), OfflineOptions{Tree: tree})
	r := CheckImage(user.bytes(), "", tg)
	s := step(t, r, StepSymbols)
	if s.Verdict != Failed || s.Errno != syscall.ENOENT || len(s.Providers["shared_value"]) != 1 || s.Providers["shared_value"][0] != "exporter" {
		t.Errorf("before the exporter: %s %s, providers %v; want failed ENOENT, exporter", s.Verdict, ErrnoName(s.Errno), s.Providers)
	}
	if sys := step(t, r, StepSysfs); sys.Verdict != Passed {
		t.Errorf("sysfs with modules.builtin = %s, want passed", sys.Verdict)
	}

	tg = offline(t, buildFS(""), OfflineOptions{Tree: tree, Loaded: []string{"exporter"}})
	if s := step(t, CheckImage(user.bytes(), "", tg), StepSymbols); s.Verdict != Passed {
		t.Errorf("after the exporter: %s %s (%s), want passed", s.Verdict, ErrnoName(s.Errno), s.Detail)
	}
}

// TestKallsymsOnly resolves symbols from /proc/kallsyms alone: a listed
// __ksymtab_ entry is an export; without any, nothing can be told.
func TestKallsymsOnly(t *testing.T) {
	m := base()
	m.versions = nil
	img := m.bytes()
	for _, tt := range []struct {
		name, kallsyms string
		want           Verdict
		wantErrno      syscall.Errno
	}{
		{"exported", "0 T printk\n0 r __ksymtab_printk\n0 r __kstrtabns_other\n", Passed, 0},
		{"exported, namespace unknown", "0 T printk\n0 r __ksymtab_printk\n", Unknown, 0},
		{"not exported", "0 T printk\n0 r __ksymtab_other\n", Failed, syscall.ENOENT},
		{"no ksymtab entries", "0 T printk\n", Unknown, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKallsyms(strings.NewReader(tt.kallsyms))
			if err != nil {
				t.Fatal(err)
			}
			tg := &Target{Kallsyms: k, Loaded: map[string]bool{}, Modversions: No}
			if s := step(t, CheckImage(img, "", tg), StepSymbols); s.Verdict != tt.want || s.Errno != tt.wantErrno {
				t.Errorf("symbols = %s %s (%s), want %s %s", s.Verdict, ErrnoName(s.Errno), s.Detail, tt.want, ErrnoName(tt.wantErrno))
			}
		})
	}
}

func testCert(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), SubjectKeyId: []byte{1, 2, 3, 4}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestSignature(t *testing.T) {
	cert, key := testCert(t, "trusted")
	other, _ := testCert(t, "other")
	hash, err := modsig.HashByName("sha256")
	if err != nil {
		t.Fatal(err)
	}
	s, err := cms.NewSigner(key, cert, cms.Options{Hash: hash})
	if err != nil {
		t.Fatal(err)
	}
	plain := base().bytes()
	block, err := s.Sign(plain)
	if err != nil {
		t.Fatal(err)
	}
	signed := append(append([]byte{}, plain...), block...)
	tampered := append([]byte{}, signed...)
	tampered[100] ^= 1

	tests := []struct {
		name      string
		image     []byte
		target    func(*Target)
		want      Verdict
		wantErrno syscall.Errno
		wantLine  string
	}{
		{"no CONFIG_MODULE_SIG", plain, func(t *Target) { t.SigCheck = No }, Passed, 0, ""},
		{"unsigned, enforced", plain, func(t *Target) { t.SigEnforce = Yes }, Failed, syscall.EKEYREJECTED, "Loading of unsigned module is rejected"},
		{"unsigned, not enforced", plain, func(t *Target) { t.SigEnforce, t.Lockdown = No, "none" }, Passed, 0, ""},
		{"unsigned, locked down", plain, func(t *Target) { t.SigEnforce, t.Lockdown = No, "integrity" }, Failed, syscall.EPERM, "Lockdown: insmod: unsigned module loading is restricted"},
		{"unsigned, lockdown unknown", plain, func(t *Target) { t.SigEnforce, t.Lockdown = No, "" }, Unknown, 0, ""},
		{"unsigned, enforcement unknown", plain, nil, Unknown, 0, ""},
		{"trusted", signed, func(t *Target) { t.SigEnforce, t.Certs = Yes, []*x509.Certificate{cert} }, Passed, 0, ""},
		{"untrusted, complete keyrings", signed, func(t *Target) { t.SigEnforce, t.Certs, t.CertsComplete = Yes, []*x509.Certificate{other}, true },
			Failed, syscall.EKEYREJECTED, "Loading of module with unavailable key is rejected"},
		{"untrusted, keyrings by name", signed, func(t *Target) { t.SigEnforce, t.Certs = Yes, []*x509.Certificate{other} }, Unknown, 0, ""},
		{"tampered", tampered, func(t *Target) { t.SigEnforce, t.Certs = Yes, []*x509.Certificate{cert} }, Failed, syscall.EKEYREJECTED, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := offline(t, buildFS(""), OfflineOptions{})
			if tt.target != nil {
				tt.target(tg)
			}
			s := step(t, CheckImage(tt.image, "", tg), StepSignature)
			if s.Verdict != tt.want || s.Errno != tt.wantErrno {
				t.Errorf("signature = %s %s (%s), want %s %s", s.Verdict, ErrnoName(s.Errno), s.Detail, tt.want, ErrnoName(tt.wantErrno))
			}
			if tt.wantLine != "" && !strings.Contains(strings.Join(s.Kernel, "\n"), tt.wantLine) {
				t.Errorf("signature logs %q, want %q", s.Kernel, tt.wantLine)
			}
		})
	}
}

func TestKeyDescription(t *testing.T) {
	cert, _ := testCert(t, "gokmod test key")
	if got, want := KeyDescription(cert), "gokmod test key: 01020304"; got != want {
		t.Errorf("KeyDescription() = %q, want %q", got, want)
	}
	keys := "1f2e3d4c I------     1 perm 1f030000     0     0 asymmetri gokmod test key: 01020304: X509.ecdsa 01020304 []\n" +
		"0a0b0c0d I------     1 perm 1f0b0000     0     0 keyring   .builtin_trusted_keys: 1\n"
	descs, err := ParseProcKeys(strings.NewReader(keys))
	if err != nil || len(descs) != 1 {
		t.Fatalf("ParseProcKeys() = %q, %v; want one key", descs, err)
	}
	if !listed(descs, []*x509.Certificate{cert}) {
		t.Errorf("listed(%q) = false, want true", descs)
	}
	other, _ := testCert(t, "other")
	if listed(descs, []*x509.Certificate{other}) {
		t.Errorf("listed(%q) with another certificate = true, want false", descs)
	}
}

// TestVerdict checks how the steps decide the report.
func TestVerdict(t *testing.T) {
	tests := []struct {
		steps     []Result
		want      Verdict
		wantErrno syscall.Errno
		wantStep  string
	}{
		{[]Result{{Step: "a", Verdict: Passed}, {Step: "b", Verdict: Passed}}, Passed, 0, ""},
		{[]Result{{Step: "a", Verdict: Passed}, {Step: "b", Verdict: Failed, Errno: syscall.ENOENT}, {Step: "c", Verdict: Failed, Errno: syscall.EINVAL}}, Failed, syscall.ENOENT, "b"},
		{[]Result{{Step: "a", Verdict: Unknown}, {Step: "b", Verdict: Failed, Errno: syscall.ENOENT}}, Failed, 0, "b"},
		{[]Result{{Step: "a", Verdict: Passed}, {Step: "b", Verdict: Unknown}, {Step: "c", Verdict: Passed}}, Unknown, 0, "b"},
	}
	for i, tt := range tests {
		r := &Report{Steps: tt.steps}
		r.decide()
		if r.Verdict != tt.want || r.Errno != tt.wantErrno || r.Step != tt.wantStep {
			t.Errorf("%d: decide() = %s %s at %q, want %s %s at %q", i, r.Verdict, ErrnoName(r.Errno), r.Step, tt.want, ErrnoName(tt.wantErrno), tt.wantStep)
		}
	}
}
