package tests

// Loading and unloading on a real kernel. These tests run inside the VM
// test bed (gokmod-vm test), as root, with the GOKMOD_* environment; they
// skip anywhere else.

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
	"github.com/gokmod/gokmod/pkg/sysmod"
	"github.com/gokmod/gokmod/vm/contract"
)

// bed is the guest environment one test uses.
type bed struct {
	t       testing.TB
	flavour string // GOKMOD_FLAVOUR
	mods    string // GOKMOD_MODULES
	bin     string // GOKMOD_BIN
	kmod    string // GOKMOD_KMOD_DIR
	keys    string // GOKMOD_KEYS
	tmp     string
}

// newBed skips unless the test runs as root on a kernel with modules and
// the test bed's modules are there.
func newBed(t testing.TB) *bed {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/proc/modules"); err != nil {
		t.Skip("needs a kernel with module support")
	}
	b := &bed{
		t:       t,
		flavour: os.Getenv(contract.EnvFlavour),
		mods:    os.Getenv(contract.EnvModules),
		bin:     os.Getenv(contract.EnvBin),
		kmod:    os.Getenv(contract.EnvKmodDir),
		keys:    os.Getenv(contract.EnvKeys),
	}
	if b.mods == "" {
		t.Skip("GOKMOD_MODULES is not set (run in the VM test bed)")
	}
	// Not t.TempDir: its parent is private, and some cases run tools as
	// an unprivileged user who must reach the files.
	tmp, err := os.MkdirTemp("", "gokmod-load-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	b.tmp = tmp
	return b
}

// enforcing reports whether the kernel only loads signed modules.
func (b *bed) enforcing() bool {
	v, err := os.ReadFile("/sys/module/module/parameters/sig_enforce")
	return err == nil && strings.TrimSpace(string(v)) == "Y"
}

// module returns a loadable copy of the test module name (without .ko):
// signed with the rsa2048 test key when the kernel enforces signatures.
func (b *bed) module(name string) string {
	b.t.Helper()
	src := filepath.Join(b.mods, name+".ko")
	if !b.enforcing() {
		return src
	}
	return b.sign(src, "rsa2048", filepath.Join(b.tmp, name+".ko"))
}

// sign writes src signed with GOKMOD_KEYS/key.{priv,der} to dst.
func (b *bed) sign(src, key, dst string) string {
	b.t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.signBytes(data, key, dst)
}

func (b *bed) signBytes(data []byte, key, dst string) string {
	b.t.Helper()
	if b.keys == "" {
		b.t.Skip("GOKMOD_KEYS is not set")
	}
	priv, err := os.ReadFile(filepath.Join(b.keys, key+".priv"))
	if err != nil {
		b.t.Fatal(err)
	}
	der, err := os.ReadFile(filepath.Join(b.keys, key+".der"))
	if err != nil {
		b.t.Fatal(err)
	}
	k, err := cms.ParsePrivateKey(priv)
	if err != nil {
		b.t.Fatalf("parse %s.priv: %v", key, err)
	}
	cert, err := cms.ParseCertificate(der)
	if err != nil {
		b.t.Fatalf("parse %s.der: %v", key, err)
	}
	hash, err := modsig.HashByName("sha256")
	if err != nil {
		b.t.Fatal(err)
	}
	s, err := cms.NewSigner(k, cert, cms.Options{Hash: hash})
	if err != nil {
		b.t.Fatalf("signer for %s: %v", key, err)
	}
	block, err := s.Sign(data)
	if err != nil {
		b.t.Fatalf("sign: %v", err)
	}
	out := append(append([]byte{}, data...), block...)
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return dst
}

// write puts data in the test's directory under name.
func (b *bed) write(name string, data []byte) string {
	b.t.Helper()
	p := filepath.Join(b.tmp, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// cleanup unloads the named modules (in order) when the test ends, so one
// test's failure does not leave modules behind for the next.
func (b *bed) cleanup(names ...string) { unloadAfter(b.t, names...) }

// unloadAfter unloads the named modules that are loaded when t ends.
func unloadAfter(t testing.TB, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			if loaded(n) {
				if err := loader.Unload(n, loader.UnloadOptions{}); err != nil {
					t.Logf("cleanup: unload %s: %v", n, err)
				}
			}
		}
	})
}

// loaded reports whether the kernel lists name in /sys/module as loaded.
func loaded(name string) bool {
	st, err := sysmod.GetState(root(), name)
	return err == nil && st != sysmod.Builtin
}

func root() fs.FS { return os.DirFS("/") }

// kmsg opens /dev/kmsg at its end.
func (b *bed) kmsg() *kernel.Kmsg {
	b.t.Helper()
	k, err := kernel.OpenKmsg()
	if err != nil {
		b.t.Fatalf("OpenKmsg() = %v", err)
	}
	b.t.Cleanup(func() { k.Close() })
	return k
}

// tool returns the path of our binary bin reached through a link named as
// (so that its messages carry kmod's prefix), or kmod's own tool when
// bin is "" .
func (b *bed) tool(bin, as string) string {
	b.t.Helper()
	if bin == "" {
		if b.kmod == "" {
			b.t.Skip("GOKMOD_KMOD_DIR is not set")
		}
		return filepath.Join(b.kmod, as)
	}
	if b.bin == "" {
		b.t.Skip("GOKMOD_BIN is not set")
	}
	dir := filepath.Join(b.tmp, "bin-"+bin)
	link := filepath.Join(dir, as)
	if _, err := os.Lstat(link); err == nil {
		return link
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(b.bin, bin), link); err != nil {
		b.t.Fatal(err)
	}
	return link
}

// result is what a command did.
type result struct {
	stdout, stderr string
	code           int
}

func (b *bed) run(path string, args ...string) result {
	b.t.Helper()
	return b.runAs(nil, path, args...)
}

func (b *bed) runAs(cred *syscall.Credential, path string, args ...string) result {
	b.t.Helper()
	cmd := exec.Command(path, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		b.t.Fatalf("run %s %q: %v", path, args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ticks returns the kaidock timer's records among recs.
func ticks(recs []kernel.Record) []kernel.Record {
	var out []kernel.Record
	for _, r := range recs {
		if strings.HasPrefix(r.Message, "kaidock: jiffies=") {
			out = append(out, r)
		}
	}
	return out
}

func TestLoadKaidock(t *testing.T) {
	b := newBed(t)
	b.cleanup("kaidock")
	k := b.kmsg()
	var steps []loader.Attempt
	err := loader.Load(b.module("kaidock"), loader.Options{
		Params: loader.JoinParams([]string{"loop=3"}),
		Trace:  func(a loader.Attempt) { steps = append(steps, a) },
	})
	if err != nil {
		t.Fatalf("Load(kaidock.ko, loop=3) = %v", err)
	}
	if len(steps) != 1 || steps[0].Syscall != loader.FinitModule || steps[0].Flags != 0 || steps[0].Params != "loop=3" {
		t.Errorf("syscalls = %+v, want one finit_module(fd, \"loop=3\", 0)", steps)
	}
	params, err := sysmod.Params(root(), "kaidock")
	if err != nil || params["loop"] != "3" {
		t.Errorf("Params(kaidock) = %v, %v; want loop=3", params, err)
	}

	// Three ticks, a second apart, then silence.
	time.Sleep(4500 * time.Millisecond)
	recs, err := k.Read()
	if err != nil {
		t.Fatal(err)
	}
	tk := ticks(recs)
	if len(tk) != 3 {
		t.Fatalf("kaidock ticked %d times, want 3: %+v", len(tk), tk)
	}
	for i := 1; i < len(tk); i++ {
		if d := tk[i].Time - tk[i-1].Time; d < 800*time.Millisecond || d > 1500*time.Millisecond {
			t.Errorf("tick %d came %v after the one before, want about 1s", i, d)
		}
	}

	r := b.run(b.tool("golsmod", "lsmod"))
	if r.code != 0 || !strings.Contains(r.stdout, "\nkaidock ") {
		t.Errorf("golsmod = %d, %q; want kaidock listed", r.code, r.stdout)
	}
	r = b.run(b.tool("gormmod", "rmmod"), "kaidock")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("gormmod kaidock = %d, %q; want 0 and no message", r.code, r.stderr)
	}
	if loaded("kaidock") {
		t.Error("kaidock still loaded after gormmod")
	}
}

func TestLoadExportUser(t *testing.T) {
	b := newBed(t)
	b.cleanup("kaidock_user", "kaidock_export")
	for _, name := range []string{"kaidock_export", "kaidock_user"} {
		if err := loader.Load(b.module(name), loader.Options{}); err != nil {
			t.Fatalf("Load(%s) = %v", name, err)
		}
	}
	holders, err := sysmod.Holders(root(), "kaidock_export")
	if err != nil || len(holders) != 1 || holders[0] != "kaidock_user" {
		t.Errorf("Holders(kaidock_export) = %q, %v; want [kaidock_user]", holders, err)
	}
	r := b.run(b.tool("golsmod", "lsmod"))
	if !strings.Contains(r.stdout, "\nkaidock_export ") || !strings.Contains(r.stdout, "  1 kaidock_user\n") {
		t.Errorf("golsmod = %q, want kaidock_export used by kaidock_user", r.stdout)
	}

	r = b.run(b.tool("gormmod", "rmmod"), "kaidock_export")
	want := "rmmod: ERROR: Module kaidock_export is in use by: kaidock_user\n"
	if r.code != 1 || !strings.HasPrefix(r.stderr, want) || !strings.Contains(r.stderr, "hint: ") ||
		!strings.Contains(r.stderr, "gormmod kaidock_user kaidock_export") {
		t.Errorf("gormmod kaidock_export = %d, %q; want 1, %q and a hint naming the order", r.code, r.stderr, want)
	}
	if !loaded("kaidock_export") {
		t.Fatal("kaidock_export was removed although in use")
	}
	r = b.run(b.tool("gormmod", "rmmod"), "kaidock_user", "kaidock_export")
	if r.code != 0 || r.stderr != "" {
		t.Errorf("gormmod kaidock_user kaidock_export = %d, %q; want 0", r.code, r.stderr)
	}
	if loaded("kaidock_user") || loaded("kaidock_export") {
		t.Error("modules still loaded after gormmod in the right order")
	}
}

func TestLoadCompressed(t *testing.T) {
	b := newBed(t)
	plain, err := os.ReadFile(b.module("kaidock"))
	if err != nil {
		t.Fatal(err)
	}
	inKernel := sysmod.Compression(root())
	t.Logf("/sys/module/compression: %q", inKernel)
	forms := []struct {
		name, ext, format string
		kernelRejects     bool // the kernel's decompressor refuses this variant
	}{
		{"gzip", ".gz", "gzip", false},
		{"xz-crc32", ".xz", "xz", false},
		{"xz-crc64", ".xz", "xz", true},
		{"zstd", ".zst", "zstd", false},
		{"lz4", ".lz4", "lz4", false},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			unloadAfter(t, "kaidock")
			path := b.write("kaidock-"+f.name+".ko"+f.ext, compress(t, f.name, plain))
			var steps []loader.Attempt
			err := loader.Load(path, loader.Options{Params: "loop=1", Trace: func(a loader.Attempt) { steps = append(steps, a) }})
			if err != nil {
				t.Fatalf("Load(%s) = %v (syscalls %+v)", path, err, steps)
			}
			if !loaded("kaidock") {
				t.Fatal("kaidock not loaded")
			}
			var want []loader.Step
			userspace := loader.Step{Syscall: loader.InitModule, Decompress: true}
			switch {
			case f.format == inKernel && f.kernelRejects:
				want = []loader.Step{{Syscall: loader.FinitModule, Flags: kernel.InitCompressedFile}, userspace}
			case f.format == inKernel:
				want = []loader.Step{{Syscall: loader.FinitModule, Flags: kernel.InitCompressedFile}}
			default:
				want = []loader.Step{userspace}
			}
			var got []loader.Step
			for _, s := range steps {
				got = append(got, s.Step)
			}
			if len(got) != len(want) {
				t.Fatalf("syscalls = %+v, want %+v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("syscall %d = %+v, want %+v", i, got[i], want[i])
				}
			}
			if len(steps) == 2 && !errors.Is(steps[0].Err, kernel.ErrInvalid) {
				t.Errorf("in-kernel attempt failed with %v, want EINVAL", steps[0].Err)
			}
			if err := loader.Unload("kaidock", loader.UnloadOptions{}); err != nil {
				t.Errorf("Unload(kaidock) = %v", err)
			}
		})
	}
}

func TestLoadForce(t *testing.T) {
	b := newBed(t)
	b.cleanup("kaidock_badmagic")
	path := b.module("kaidock_badmagic")
	if err := loader.Load(path, loader.Options{}); !errors.Is(err, kernel.ErrNoExec) {
		t.Fatalf("Load(kaidock_badmagic) = %v, want ENOEXEC", err)
	}
	var steps []loader.Attempt
	err := loader.Load(path, loader.Options{Force: loader.Force{Vermagic: true},
		Trace: func(a loader.Attempt) { steps = append(steps, a) }})
	if len(steps) == 0 || steps[0].Syscall != loader.FinitModule || steps[0].Flags != kernel.InitIgnoreVermagic {
		t.Errorf("forced syscalls = %+v, want finit_module with MODULE_INIT_IGNORE_VERMAGIC", steps)
	}
	if b.enforcing() {
		// A forced load is a "mangled" module: its signature is not checked,
		// so an enforcing kernel refuses it.
		if !errors.Is(err, kernel.ErrKeyRejected) {
			t.Errorf("forced Load on an enforcing kernel = %v, want EKEYREJECTED", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Load(kaidock_badmagic, --force-vermagic) = %v", err)
	}
	if taint, _ := sysmod.Taint(root(), "kaidock_badmagic"); !strings.Contains(taint, "F") {
		t.Errorf("taint = %q, want F (forced)", taint)
	}
	if err := loader.Unload("kaidock_badmagic", loader.UnloadOptions{}); err != nil {
		t.Fatal(err)
	}

	// The userspace path: a gzip file (no kernel here decompresses gzip)
	// is stripped of its vermagic before init_module, as kmod does.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gz := b.write("kaidock_badmagic.ko.gz", compress(t, "gzip", data))
	steps = nil
	err = loader.Load(gz, loader.Options{Force: loader.Force{Vermagic: true},
		Trace: func(a loader.Attempt) { steps = append(steps, a) }})
	if err != nil {
		t.Fatalf("Load(kaidock_badmagic.ko.gz, --force-vermagic) = %v (syscalls %+v)", err, steps)
	}
	if len(steps) != 1 || steps[0].Syscall != loader.InitModule || !steps[0].Strip.Vermagic {
		t.Errorf("syscalls = %+v, want one init_module of a stripped image", steps)
	}

	// A symbol version that disagrees, forced past with --force-modversion.
	b.cleanup("kaidock")
	bad := b.prepare("kaidock-badcrc.ko", badCRC(t, b.rawModule("kaidock")))
	if err := loader.Load(bad, loader.Options{}); err == nil {
		t.Fatal("Load(kaidock with a wrong CRC) = nil, want an error")
	}
	if err := loader.Load(bad, loader.Options{Force: loader.Force{Modversions: true}}); err != nil {
		t.Fatalf("Load(kaidock with a wrong CRC, --force-modversion) = %v", err)
	}
}

func TestLoadCycles(t *testing.T) {
	b := newBed(t)
	b.cleanup("kaidock")
	before, err := os.ReadFile("/proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	path := b.module("kaidock")
	const n = 200
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := loader.Load(path, loader.Options{Params: "loop=1"}); err != nil {
			t.Fatalf("cycle %d: Load = %v", i, err)
		}
		if err := loader.Unload("kaidock", loader.UnloadOptions{}); err != nil {
			t.Fatalf("cycle %d: Unload = %v", i, err)
		}
	}
	t.Logf("%d load/unload cycles in %v", n, time.Since(start))
	after, err := os.ReadFile("/proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	if loaded("kaidock") || strings.Contains(string(after), "kaidock ") {
		t.Errorf("kaidock left in /proc/modules:\n%s", after)
	}
	if names(before) != names(after) {
		t.Errorf("/proc/modules changed:\nbefore %s\nafter %s", names(before), names(after))
	}
}

// names lists the module names of a /proc/modules text.
func names(procModules []byte) string {
	entries, err := sysmod.ParseProcModules(bytes.NewReader(procModules))
	if err != nil {
		return err.Error()
	}
	var n []string
	for _, e := range entries {
		n = append(n, e.Name)
	}
	return strings.Join(n, " ")
}

// TestLoadParams loads kaidock_params with a value of every type, one
// holding a space, through goinsmod, and reads them back from /sys.
func TestLoadParams(t *testing.T) {
	b := newBed(t)
	b.cleanup("kaidock_params")
	r := b.run(b.tool("goinsmod", "insmod"), b.module("kaidock_params"),
		"intparam=-7", "uintparam=7", "longparam=-70000000000", "shortparam=-300",
		"boolparam=Y", "charpparam=hello world", "arrayparam=1,2,3")
	if r.code != 0 {
		t.Fatalf("goinsmod kaidock_params = %d, %q", r.code, r.stderr)
	}
	got, err := sysmod.Params(root(), "kaidock_params")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"intparam": "-7", "uintparam": "7", "longparam": "-70000000000", "shortparam": "-300",
		"boolparam": "Y", "charpparam": "hello world", "arrayparam": "1,2,3",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parameter %s = %q, want %q", k, got[k], v)
		}
	}
	// A module named by its path, as kmod's rmmod accepts it.
	r = b.run(b.tool("gormmod", "rmmod"), b.module("kaidock_params"))
	if r.code != 0 || loaded("kaidock_params") {
		t.Errorf("gormmod PATH = %d, %q; want kaidock_params removed", r.code, r.stderr)
	}
}

// TestLoadImage loads kaidock from memory, plain and compressed.
func TestLoadImage(t *testing.T) {
	b := newBed(t)
	b.cleanup("kaidock")
	plain, err := os.ReadFile(b.module("kaidock"))
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range [][]byte{plain, compress(t, "zstd", plain)} {
		var steps []loader.Attempt
		if err := loader.LoadImage(img, loader.Options{Params: "loop=1", Trace: func(a loader.Attempt) { steps = append(steps, a) }}); err != nil {
			t.Fatalf("LoadImage = %v", err)
		}
		if len(steps) != 1 || steps[0].Syscall != loader.InitModule || steps[0].Size != len(plain) {
			t.Errorf("syscalls = %+v, want one init_module of %d bytes", steps, len(plain))
		}
		if err := loader.Unload("kaidock", loader.UnloadOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}
