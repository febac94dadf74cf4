package tests

// gomodprobe and pkg/modprobe on a real kernel, against kmod's modprobe
// in the same guest. The guest's /lib/modules/$(uname -r) holds a subset
// of the flavour's own module tree (btrfs and its dependencies, the FAT
// family, the NLS tables; .ko.xz on debian612) plus the test companions
// under extra/, with indexes kmod's depmod wrote (vm/modtree.go) and
// godepmod rewrote in the guest, byte for byte the same (depmod_test.go). The
// secure flavour, a tinyconfig kernel, has only the companions.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
	"github.com/gokmod/gokmod/pkg/modprobe"
)

type probeBed struct {
	*bed
	ours, kmod string // modprobe binaries: ours (linked as modprobe) and kmod's
	dir        string // /lib/modules/$(uname -r)
}

func newProbeBed(t *testing.T) *probeBed { return newProbeBedB(t) }

func newProbeBedB(t testing.TB) *probeBed {
	t.Helper()
	b := newBed(t)
	rel, err := kernel.Release()
	if err != nil {
		t.Fatal(err)
	}
	dir := "/lib/modules/" + rel
	if _, err := os.Stat(dir + "/modules.dep"); err != nil {
		t.Skipf("no module tree in %s (run in the VM test bed)", dir)
	}
	godepmodIndexes(t, b) // the indexes the tests read are godepmod's (depmod_test.go)
	return &probeBed{bed: b, ours: b.tool("gomodprobe", "modprobe"), kmod: b.tool("", "modprobe"), dir: dir}
}

// has reports whether the tree has a module called name.
func (p *probeBed) has(name string) bool {
	b, err := os.ReadFile(p.dir + "/modules.dep")
	return err == nil && strings.Contains(string(b), "/"+name+".ko")
}

// procModules is /proc/modules without the load addresses, sorted.
func procModules(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("/proc/modules")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		if len(f) >= 5 {
			lines = append(lines, strings.Join(f[:5], " "))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// must runs a modprobe and fails unless it exits with code.
func (p *probeBed) must(code int, bin string, args ...string) result {
	p.t.Helper()
	r := p.run(bin, args...)
	if r.code != code {
		p.t.Fatalf("%s %s = %d, want %d\n%s%s", bin, strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// chains are the requests whose loading and removal are compared.
func (p *probeBed) chains() []string {
	var c []string
	for _, m := range []string{"btrfs", "vfat"} {
		if p.has(m) {
			c = append(c, m)
		}
	}
	return append(c, "kaidock_user")
}

// TestModprobeChain loads each chain with kmod's modprobe and with ours
// and removes it again: the same insmod lines in the same order, and the
// same /proc/modules after every step.
func TestModprobeChain(tt *testing.T) {
	t := tt
	p := newProbeBed(t)
	start := loadedNames(t)
	for _, chain := range p.chains() {
		t.Run(chain, func(t *testing.T) {
			p.t = t
			defer func() { p.t = tt }()
			k := p.must(0, p.kmod, "-v", chain)
			kLoaded := procModules(t)
			kr := p.must(0, p.kmod, "-r", "-v", chain)
			// kmod leaves what it cannot know is unused (a soft
			// dependency's module): ours must leave the same, from
			// the same start.
			base := procModules(t)
			p.unloadAllBut(start)
			o := p.must(0, p.ours, "-v", chain)
			if o.stdout != k.stdout {
				t.Errorf("modprobe -v %s printed:\n%s\nkmod printed:\n%s", chain, o.stdout, k.stdout)
			}
			if got := procModules(t); got != kLoaded {
				t.Errorf("after modprobe %s, /proc/modules:\n%s\nkmod gave:\n%s", chain, got, kLoaded)
			}
			if n := strings.Count(o.stdout, "insmod "); chain == "btrfs" && n < 4 {
				t.Errorf("modprobe -v btrfs loaded %d modules, want a chain of at least 4", n)
			}
			or := p.must(0, p.ours, "-r", "-v", chain)
			if or.stdout != kr.stdout {
				t.Errorf("modprobe -r -v %s printed:\n%s\nkmod printed:\n%s", chain, or.stdout, kr.stdout)
			}
			if got := procModules(t); got != base {
				t.Errorf("after modprobe -r %s, /proc/modules:\n%s\nwant:\n%s", chain, got, base)
			}
			p.unloadAllBut(start)
		})
	}
}

// loadedNames are the modules /proc/modules lists.
func loadedNames(t testing.TB) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, l := range strings.Split(procModules(t), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			names[f[0]] = true
		}
	}
	return names
}

// unloadAllBut unloads every module not in keep, users first.
func (p *probeBed) unloadAllBut(keep map[string]bool) {
	p.t.Helper()
	for range 10 {
		left := 0
		for n := range loadedNames(p.t) {
			if !keep[n] {
				left++
				loader.Unload(n, loader.UnloadOptions{})
			}
		}
		if left == 0 {
			return
		}
	}
	p.t.Fatalf("could not unload the modules the test loaded: %v", loadedNames(p.t))
}

// confDir writes a modprobe.d directory for the tests and returns it.
func (p *probeBed) confDir(text string) string {
	p.t.Helper()
	dir := filepath.Join(p.tmp, fmt.Sprintf("conf%d", len(text)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.conf"), []byte(text), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return dir
}

// TestModprobeConfig checks modprobe.d at work on a real kernel, each
// case against kmod's modprobe where kmod defines the behaviour.
func TestModprobeConfig(t *testing.T) {
	p := newProbeBed(t)
	p.cleanup("kaidock_user", "kaidock", "kaidock_params", "kaidock_export")
	marks := filepath.Join(p.tmp, "marks")
	if err := os.MkdirAll(marks, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := p.confDir(`options kaidock loop=2
softdep kaidock pre: kaidock_export
install kaidock_params touch ` + marks + `/installed-$MODPROBE_MODULE
remove kaidock_params touch ` + marks + `/removed
blacklist kaidock_export
alias kd-alias kaidock_export
`)
	base := procModules(t)
	both := func(args ...string) (k, o result) {
		t.Helper()
		k = p.run(p.kmod, append([]string{"-C", conf}, args...)...)
		kState := procModules(t)
		p.run(p.kmod, append([]string{"-C", conf, "-r"}, args...)...)
		o = p.run(p.ours, append([]string{"-C", conf}, args...)...)
		if got := procModules(t); got != kState {
			t.Errorf("modprobe %q: /proc/modules\n%s\nkmod gave\n%s", args, got, kState)
		}
		if k.code != o.code || k.stdout != o.stdout || firstLine(k.stderr) != firstLine(o.stderr) {
			t.Errorf("modprobe %q = %d %q %q, kmod %d %q %q", args, o.code, o.stdout, o.stderr, k.code, k.stdout, k.stderr)
		}
		return k, o
	}

	// Options and a soft dependency.
	both("-v", "kaidock")
	if b, err := os.ReadFile("/sys/module/kaidock/parameters/loop"); err != nil || strings.TrimSpace(string(b)) != "2" {
		t.Errorf("/sys/module/kaidock/parameters/loop = %q, %v; want 2 from modprobe.d", b, err)
	}
	if !loaded("kaidock_export") {
		t.Error("softdep pre: kaidock_export not loaded")
	}
	// Parameters on the command line come after those of modprobe.d.
	p.must(0, p.ours, "-C", conf, "-r", "kaidock")
	p.must(0, p.ours, "-C", conf, "kaidock", "loop=5")
	if b, err := os.ReadFile("/sys/module/kaidock/parameters/loop"); err != nil || strings.TrimSpace(string(b)) != "5" {
		t.Errorf("/sys/module/kaidock/parameters/loop = %q, %v; want 5 from the command line", b, err)
	}
	p.must(0, p.ours, "-C", conf, "-r", "kaidock")
	if got := procModules(t); got != base {
		t.Errorf("after -r kaidock:\n%s\nwant\n%s", got, base)
	}

	// Install and remove commands run instead of loading.
	p.must(0, p.ours, "-C", conf, "kaidock_params")
	if _, err := os.Stat(filepath.Join(marks, "installed-kaidock_params")); err != nil || loaded("kaidock_params") {
		t.Errorf("install command: mark %v, loaded %v; want the command run and nothing loaded", err, loaded("kaidock_params"))
	}
	p.must(0, p.ours, "-C", conf, "-r", "kaidock_params")
	if _, err := os.Stat(filepath.Join(marks, "removed")); err != nil {
		t.Errorf("remove command did not run: %v", err)
	}

	// A blacklist entry stops an alias, not a name, unless -b.
	both("kd-alias")
	if loaded("kaidock_export") {
		t.Error("kd-alias loaded blacklisted kaidock_export")
	}
	both("-b", "kaidock_export")
	if loaded("kaidock_export") {
		t.Error("-b kaidock_export loaded a blacklisted module")
	}
	p.must(0, p.ours, "-C", conf, "kaidock_export")
	if !loaded("kaidock_export") {
		t.Error("kaidock_export by name not loaded")
	}

	// --first-time: a loaded module is an error, in kmod's words.
	k := p.run(p.kmod, "--first-time", "kaidock_export")
	o := p.run(p.ours, "--first-time", "kaidock_export")
	if k.code != 1 || o.code != k.code || o.stdout != k.stdout || firstLine(o.stderr) != firstLine(k.stderr) {
		t.Errorf("--first-time = %d %q, kmod %d %q", o.code, o.stderr, k.code, k.stderr)
	}

	// A module in use is refused, with its holders named.
	p.must(0, p.ours, "kaidock_user")
	k = p.run(p.kmod, "-r", "kaidock_export")
	o = p.run(p.ours, "-r", "kaidock_export")
	if o.code != 1 || o.code != k.code || firstLine(o.stderr) != firstLine(k.stderr) || !strings.Contains(o.stderr, "kaidock_user") {
		t.Errorf("-r kaidock_export in use = %d %q, kmod %d %q; want kmod's refusal and the holder named", o.code, o.stderr, k.code, k.stderr)
	}
	k = p.run(p.kmod, "-r", "--remove-holders", "kaidock_export")
	kState := procModules(t)
	p.must(0, p.ours, "kaidock_user")
	o = p.run(p.ours, "-r", "--remove-holders", "kaidock_export")
	if o.code != k.code || o.stderr != k.stderr || procModules(t) != kState {
		t.Errorf("-r --remove-holders kaidock_export = %d %q, kmod %d %q", o.code, o.stderr, k.code, k.stderr)
	}
	if loaded("kaidock_user") || loaded("kaidock_export") {
		t.Error("--remove-holders left kaidock_user or kaidock_export loaded")
	}
	if _, err := os.Stat("/sys/module/unix"); err == nil && p.has("kaidock") {
		// A built-in module: nothing to do, exit 0 for both.
		if k, o := p.run(p.kmod, "unix"), p.run(p.ours, "unix"); k.code != o.code || k.stderr != o.stderr {
			t.Errorf("modprobe unix (built in) = %d %q, kmod %d %q", o.code, o.stderr, k.code, k.stderr)
		}
	}
}

// countingKernel counts module loads per file name.
type countingKernel struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *countingKernel) FinitModule(fd int, params string, flags int) error {
	name, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	err := kernel.FinitModule(fd, params, flags)
	if err == nil {
		c.mu.Lock()
		c.n[filepath.Base(name)]++
		c.mu.Unlock()
	}
	return err
}

func (c *countingKernel) InitModule(image []byte, params string) error {
	err := kernel.InitModule(image, params)
	if err == nil {
		c.mu.Lock()
		c.n["(init_module)"]++
		c.mu.Unlock()
	}
	return err
}

func (c *countingKernel) DeleteModule(name string, flags int) error {
	return kernel.DeleteModule(name, flags)
}

var _ loader.Kernel = (*countingKernel)(nil)

// TestModprobeBatch loads 20+ requests in parallel through the library:
// every module once, each after what it needs.
func TestModprobeBatch(t *testing.T) {
	p := newProbeBed(t)
	base := procModules(t)
	var reqs []string
	b, _ := os.ReadFile(p.dir + "/modules.dep")
	for _, l := range strings.Split(string(b), "\n") {
		// nls_euc-jp and nls_koi8-ru load another table through the
		// kernel's modprobe helper, which the guest does not have.
		if f, _, ok := strings.Cut(l, ":"); ok && strings.Contains(f, "/nls/") && !strings.Contains(f, "euc") && !strings.Contains(f, "koi8-ru") {
			reqs = append(reqs, strings.TrimSuffix(strings.TrimSuffix(filepath.Base(f), ".xz"), ".ko"))
		}
	}
	for len(reqs) < 24 {
		reqs = append(reqs, "kaidock_user", "kaidock_export", "kaidock")
	}
	reqs = append(reqs, "kaidock_user", "kaidock_user")
	ck := &countingKernel{n: map[string]int{}}
	pr, err := modprobe.New(modprobe.Options{Kernel: ck, CmdlinePath: "-", ConfigPaths: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	errs := pr.Batch(context.Background(), reqs, modprobe.BatchOptions{Workers: 8})
	for i, err := range errs {
		if err != nil {
			t.Errorf("Batch: %s: %v", reqs[i], err)
		}
	}
	for name, n := range ck.n {
		if n != 1 {
			t.Errorf("%s loaded %d times, want once", name, n)
		}
	}
	for _, r := range reqs {
		if !loaded(strings.ReplaceAll(r, "-", "_")) {
			t.Errorf("%s not loaded after Batch", r)
		}
	}
	t.Logf("%d requests, %d loads", len(reqs), len(ck.n))
	seen := map[string]bool{}
	for i := len(reqs) - 1; i >= 0; i-- {
		r := reqs[i]
		if seen[r] {
			continue
		}
		seen[r] = true
		plan, err := pr.Remove(context.Background(), r, modprobe.RemoveOptions{})
		if err == nil {
			err = pr.Execute(context.Background(), plan, modprobe.ExecOptions{})
		}
		if err != nil {
			t.Logf("remove %s: %v", r, err)
		}
	}
	for r := range seen {
		if loaded(strings.ReplaceAll(r, "-", "_")) {
			t.Errorf("%s still loaded after its removal", r)
		}
	}
	_ = base
}

// TestModprobeColdplug loads what the guest's devices ask for (QEMU gives
// it an e1000, vm/devices.go): gomodprobe --load-devices must leave the
// modules loaded that kmod's modprobe loads for the same modalias files,
// as udev's coldplug runs it.
func TestModprobeColdplug(t *testing.T) {
	p := newProbeBed(t)
	aliases, err := modprobe.Modaliases(root())
	if err != nil {
		t.Fatal(err)
	}
	e1000 := false
	for _, a := range aliases {
		e1000 = e1000 || strings.HasPrefix(a, "pci:v00008086d0000100E")
	}
	if !e1000 || !p.has("e1000") {
		t.Skipf("no e1000 device or module in this guest (%d modaliases)", len(aliases))
	}
	start := loadedNames(t)
	p.run(p.kmod, append([]string{"-q", "-a"}, aliases...)...)
	kState := procModules(t)
	if !loaded("e1000") {
		t.Fatalf("kmod's modprobe did not load e1000 for %q", aliases)
	}
	p.unloadAllBut(start)
	r := p.run(p.ours, "--load-devices")
	if got := procModules(t); got != kState {
		t.Errorf("modprobe --load-devices = %d %q; /proc/modules\n%s\nkmod gave\n%s", r.code, r.stderr, got, kState)
	}
	p.unloadAllBut(start)
	// The library, in one batch.
	pr, err := modprobe.New(modprobe.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := pr.Coldplug(context.Background(), modprobe.BatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := procModules(t); got != kState {
		t.Errorf("Coldplug: /proc/modules\n%s\nkmod gave\n%s", got, kState)
	}
	p.unloadAllBut(start)
}
