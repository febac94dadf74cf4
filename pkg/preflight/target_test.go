package preflight

import (
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/gokmod/gokmod/pkg/compression"
)

func TestVermagicOf(t *testing.T) {
	tests := []struct {
		config, want string
	}{
		{"CONFIG_SMP=y\nCONFIG_PREEMPT_BUILD=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_MODVERSIONS=y\nCONFIG_X86_64=y\n", "6.1.0-56-amd64 SMP preempt mod_unload modversions "},
		{"CONFIG_SMP=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_X86_64=y\nCONFIG_MCORE2=y\n", "6.1.0-56-amd64 SMP mod_unload CORE2 "},
		{"CONFIG_PREEMPT_RT=y\n", "6.1.0-56-amd64 preempt_rt "},
		{"CONFIG_RANDSTRUCT=y\n", ""},
	}
	for _, tt := range tests {
		if got := vermagicOf("6.1.0-56-amd64", parseConfig([]byte(tt.config))); got != tt.want {
			t.Errorf("vermagicOf(%q) = %q, want %q", tt.config, got, tt.want)
		}
	}
}

// liveFS is a running system as Live reads it.
func liveFS() fstest.MapFS {
	return fstest.MapFS{
		"proc/sys/kernel/osrelease":                                   {Data: []byte("6.1.0-test\n")},
		"sys/module/compression":                                      {Data: []byte("xz\n")},
		"sys/module/module/parameters/sig_enforce":                    {Data: []byte("N\n")},
		"sys/kernel/security/lockdown":                                {Data: []byte("[none] integrity confidentiality\n")},
		"proc/modules":                                                {Data: []byte("loaded_mod 16384 0 - Live 0x0000000000000000\n")},
		"sys/module/loaded_mod/initstate":                             {Data: []byte("live\n")},
		"sys/module/loaded_mod/coresize":                              {Data: []byte("16384\n")},
		"sys/module/builtin_mod/parameters/x":                         {Data: []byte("1\n")},
		"proc/kallsyms":                                               {Data: []byte("0000000000000000 T printk\n0000000000000000 r __ksymtab_printk\n0000000000000000 t helper\t[loaded_mod]\n")},
		"proc/keys":                                                   {Data: []byte("")},
		"lib/modules/6.1.0-test/build/Module.symvers":                 {Data: []byte(symvers("module_layout 0x11111111 EXPORT_SYMBOL", "printk 0x22222222 EXPORT_SYMBOL"))},
		"lib/modules/6.1.0-test/build/include/generated/utsrelease.h": {Data: []byte("#define UTS_RELEASE \"6.1.0-test\"\n")},
		"lib/modules/6.1.0-test/build/include/config/auto.conf":       {Data: []byte("CONFIG_SMP=y\nCONFIG_PREEMPT_BUILD=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_MODVERSIONS=y\nCONFIG_X86_64=y\nCONFIG_MODULE_FORCE_LOAD=y\n")},
	}
}

func TestLive(t *testing.T) {
	tg, err := Live(liveFS(), LiveOptions{})
	if err != nil {
		t.Fatalf("Live() = %v", err)
	}
	if tg.Release != "6.1.0-test" || tg.Vermagic != testVermagic || tg.Compression != compression.XZ || !tg.CompressionKnown ||
		tg.SigEnforce != No || tg.SigCheck != Yes || tg.Lockdown != "none" || !tg.Loaded["loaded_mod"] || !tg.Builtin["builtin_mod"] ||
		tg.KernelExports["printk"].CRC != 0x22222222 || tg.ForceLoad != Yes || tg.Machine != hostMachine() {
		t.Errorf("Live() = %+v", tg)
	}
	r := CheckImage(base().bytes(), "", tg)
	if r.Verdict != Passed {
		for _, s := range r.Steps {
			t.Logf("%s %s %s", s.Step, s.Verdict, s.Detail)
		}
		t.Errorf("CheckImage() = %s at %s, want passed", r.Verdict, r.Step)
	}

	blocked := fstest.MapFS{"proc/cmdline": {Data: []byte("quiet module_blacklist=x,fixture\n")}}
	for k, v := range liveFS() {
		blocked[k] = v
	}
	tb, err := Live(blocked, LiveOptions{})
	if err != nil {
		t.Fatalf("Live() = %v", err)
	}
	if s := step(t, CheckImage(base().bytes(), "", tb), StepELF); s.Verdict != Failed || s.Errno != syscall.EPERM || s.Kernel[0] != "Module fixture is blacklisted" {
		t.Errorf("blacklisted module: elf = %s %s %q, want failed EPERM", s.Verdict, ErrnoName(s.Errno), s.Kernel)
	}

	m := base()
	m.name = "builtin_mod"
	if r := CheckImage(m.bytes(), "", tg); r.Verdict != Failed || r.Step != StepSysfs {
		t.Errorf("a module named like a built-in one: %s at %s, want failed at sysfs", r.Verdict, r.Step)
	}
}

func TestLiveOtherBuild(t *testing.T) {
	// A build directory of another release is not used.
	tg, err := Live(liveFS(), LiveOptions{Build: fstest.MapFS{
		"include/generated/utsrelease.h": {Data: []byte("#define UTS_RELEASE \"6.12.0-other\"\n")},
		"Module.symvers":                 {Data: []byte(symvers("module_layout 0x11111111 EXPORT_SYMBOL"))},
	}})
	if err != nil {
		t.Fatalf("Live() = %v", err)
	}
	if tg.KernelExports != nil || tg.Vermagic != "" {
		t.Errorf("Live() with another kernel's build directory uses it: %d exports, vermagic %q", len(tg.KernelExports), tg.Vermagic)
	}
}

func TestLiveUnknowns(t *testing.T) {
	// A system without /sys/module/compression, sig_enforce or kallsyms
	// that can be read: the steps that need them say unknown.
	fsys := fstest.MapFS{
		"proc/sys/kernel/osrelease": {Data: []byte("6.1.0-test\n")},
		"sys/kernel/security/x":     {Data: []byte("")},
	}
	tg, err := Live(fsys, LiveOptions{})
	if err != nil {
		t.Fatalf("Live() = %v", err)
	}
	r := CheckImage(base().bytes(), "", tg)
	if r.Verdict != Unknown {
		t.Errorf("CheckImage() = %s, want unknown", r.Verdict)
	}
	for _, name := range []string{StepSignature, StepModversions, StepVermagic, StepLoaded, StepSymbols, StepSysfs} {
		if s := step(t, r, name); s.Verdict != Unknown || s.Detail == "" {
			t.Errorf("step %s = %s %q, want unknown with a reason", name, s.Verdict, s.Detail)
		}
	}
}

func TestOfflineNoRelease(t *testing.T) {
	if _, err := Offline(fstest.MapFS{"Module.symvers": {Data: []byte("")}}, "x", OfflineOptions{}); err == nil || !strings.Contains(err.Error(), "release") {
		t.Errorf("Offline() without a release = %v, want ErrNoRelease", err)
	}
}

func TestParsers(t *testing.T) {
	if _, err := ParseKallsyms(strings.NewReader("0 T\n")); err == nil {
		t.Error("ParseKallsyms(short line) = nil error")
	}
	if _, err := ParseSymvers(strings.NewReader("0xzz\tx\tvmlinux\tEXPORT_SYMBOL\n")); err == nil {
		t.Error("ParseSymvers(bad CRC) = nil error")
	}
	if _, err := ParseSymvers(strings.NewReader("0x1\tx\tvmlinux\tEXPORT_WHAT\n")); err == nil {
		t.Error("ParseSymvers(bad kind) = nil error")
	}
	if _, err := ParseProcKeys(strings.NewReader("1 2 3\n")); err == nil {
		t.Error("ParseProcKeys(short line) = nil error")
	}
	e, err := ParseSymvers(strings.NewReader("0x00000001\tusb_x\tdrivers/usb/core/usbcore\tEXPORT_SYMBOL_GPL\tUSB_NS\n"))
	if err != nil || !e["usb_x"].GPLOnly || e["usb_x"].Namespace != "USB_NS" || e["usb_x"].Module != "drivers/usb/core/usbcore" {
		t.Errorf("ParseSymvers() = %+v, %v", e, err)
	}
}

// FuzzParsers feeds the same text to the parsers of /proc/kallsyms,
// Module.symvers and /proc/keys.
func FuzzParsers(f *testing.F) {
	f.Add("0 T printk\n0 r __ksymtab_printk\nffff t x\t[mod]\n")
	f.Add("0x9060323f\tmodule_layout\tvmlinux\tEXPORT_SYMBOL\t\n0x1\tx\tm\tEXPORT_SYMBOL_GPL\tNS\n")
	f.Add("1f2e3d4c I------     1 perm 1f030000     0     0 asymmetri key: 0102: X509.rsa 0102 []\n")
	f.Fuzz(func(t *testing.T, s string) {
		ParseKallsyms(strings.NewReader(s))
		ParseSymvers(strings.NewReader(s))
		ParseProcKeys(strings.NewReader(s))
	})
}

// FuzzCheckImage feeds arbitrary bytes to the whole check: a module file
// is untrusted input.
func FuzzCheckImage(f *testing.F) {
	f.Add(base().bytes(), "loop=1")
	f.Add([]byte("\x7fELF"), "")
	f.Fuzz(func(t *testing.T, data []byte, params string) {
		tg := &Target{Loaded: map[string]bool{}}
		r := CheckImage(data, params, tg)
		if len(r.Steps) != len(Steps) {
			t.Fatalf("CheckImage() has %d steps, want %d", len(r.Steps), len(Steps))
		}
	})
}
