package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/gokmod/vm/contract"
)

// requireModuleKernel skips unless the test runs as root on a kernel with
// module support, which is what the VM test bed provides.
func requireModuleKernelSmoke(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/proc/modules"); err != nil {
		t.Skip("kernel without module support")
	}
	if os.Getenv(contract.EnvModules) == "" {
		t.Skip("not in the test bed: GOKMOD_MODULES is not set (use gokmod-vm or make test-host)")
	}
}

// TestVMSmoke checks the guest environment itself with kmod's tools: the
// environment variables, kaidock loading with a parameter, and unloading.
func TestVMSmoke(t *testing.T) {
	requireModuleKernelSmoke(t)
	env := map[string]string{}
	for _, k := range []string{"GOKMOD_FLAVOUR", "GOKMOD_MODULES", "GOKMOD_KMOD_DIR", "GOKMOD_KEYS"} {
		v := os.Getenv(k)
		if v == "" {
			t.Fatalf("%s is not set", k)
		}
		env[k] = v
	}
	for _, f := range []string{"rsa2048.priv", "rsa2048.der", "rsa4096.priv", "rsa4096.der",
		"ecdsa256.priv", "ecdsa256.der", "untrusted.priv", "untrusted.der"} {
		if _, err := os.Stat(filepath.Join(env["GOKMOD_KEYS"], f)); err != nil {
			t.Errorf("key file: %v", err)
		}
	}
	for _, m := range []string{"kaidock", "kaidock_export", "kaidock_user", "kaidock_badmagic",
		"kaidock_unknownsym", "kaidock_gplonly", "kaidock_params"} {
		if _, err := os.Stat(filepath.Join(env["GOKMOD_MODULES"], m+".ko")); err != nil {
			t.Errorf("module: %v", err)
		}
	}
	if _, err := os.Stat("/sys/module/kaidock"); err == nil {
		t.Fatal("kaidock is already loaded")
	}
	kmod := func(tool string, args ...string) {
		t.Helper()
		out, err := exec.Command(filepath.Join(env["GOKMOD_KMOD_DIR"], tool), args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
		}
	}
	ko := filepath.Join(env["GOKMOD_MODULES"], "kaidock.ko")
	if b, err := os.ReadFile("/sys/module/module/parameters/sig_enforce"); err == nil && strings.TrimSpace(string(b)) == "Y" {
		// An enforcing kernel (the secure flavour) needs a signed copy:
		// signed by the kernel's own sign-file with a trusted test key.
		signFile := os.Getenv(contract.EnvSignFile)
		if signFile == "" {
			t.Skip("kernel enforces signatures and GOKMOD_SIGN_FILE is not set")
		}
		signed := filepath.Join(t.TempDir(), "kaidock.ko")
		data, err := os.ReadFile(ko)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(signed, data, 0o644); err != nil {
			t.Fatal(err)
		}
		keys := env["GOKMOD_KEYS"]
		out, err := exec.Command(signFile, "sha256", filepath.Join(keys, "rsa2048.priv"), filepath.Join(keys, "rsa2048.der"), signed).CombinedOutput()
		if err != nil {
			t.Fatalf("sign-file: %v\n%s", err, out)
		}
		ko = signed
	}
	kmod("insmod", ko, "loop=3")
	loaded := true
	defer func() {
		if loaded {
			exec.Command(filepath.Join(env["GOKMOD_KMOD_DIR"], "rmmod"), "kaidock").Run()
		}
	}()
	b, err := os.ReadFile("/sys/module/kaidock/parameters/loop")
	if err != nil {
		t.Fatal(err)
	}
	// The timer may already have ticked once, counting loop down.
	if got := strings.TrimSpace(string(b)); got != "3" && got != "2" {
		t.Errorf("/sys/module/kaidock/parameters/loop = %q, want 3 (or 2 after a tick)", got)
	}
	kmod("rmmod", "kaidock")
	loaded = false
	if _, err := os.Stat("/sys/module/kaidock"); err == nil {
		t.Error("/sys/module/kaidock still exists after rmmod")
	}
}
