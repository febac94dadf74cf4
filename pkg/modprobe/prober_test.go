package modprobe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
	"github.com/google/go-cmp/cmp"
)

// tree is a fixture module tree and a fake kernel that "loads" a module
// by creating /sys/module/NAME/initstate, so that the Prober sees it
// loaded, as it would on a real system.
type tree struct {
	root string // holds lib/modules/k and sys/module
	mu   sync.Mutex
	log  []string       // loads and unloads, in order
	n    map[string]int // loads per module
	fail map[string]syscall.Errno
}

const fixtureDep = `kernel/a.ko: kernel/b.ko kernel/c.ko
kernel/b.ko: kernel/c.ko
kernel/c.ko:
kernel/d.ko:
kernel/e.ko: kernel/c.ko
kernel/fw.ko: kernel/c.ko
`

func newTree(t *testing.T, conf string) (*tree, *Prober) {
	t.Helper()
	tr := &tree{root: t.TempDir(), n: map[string]int{}, fail: map[string]syscall.Errno{}}
	dir := filepath.Join(tr.root, "lib/modules/k")
	files := map[string]string{
		"modules.dep":             fixtureDep,
		"modules.alias":           "alias pci:v00001234d* e\nalias pci:v00001234d00000001* d\nalias fs-a a\n",
		"modules.symbols":         "alias symbol:c_func c\n",
		"modules.builtin":         "kernel/bi.ko\n",
		"modules.builtin.modinfo": "bi.alias=bi-alias\x00",
	}
	for name, data := range files {
		write(t, filepath.Join(dir, name), data)
	}
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		write(t, filepath.Join(dir, "kernel", m+".ko"), string(modfiletest.Module("name="+m+"\x00")))
	}
	write(t, filepath.Join(dir, "kernel/fw.ko"), string(modfiletest.Module("name=fw\x00firmware=x/b.bin\x00firmware=x/a.bin\x00")))
	write(t, filepath.Join(tr.root, "etc/modprobe.d/t.conf"), conf)
	if err := os.MkdirAll(filepath.Join(tr.root, "sys/module"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := New(Options{
		Root: tr.root, KernelRelease: "k",
		ConfigPaths: []string{filepath.Join(tr.root, "etc/modprobe.d")}, CmdlinePath: "-",
		Sys: os.DirFS(tr.root), Kernel: tr,
		Run: func(cmd, module string) error {
			tr.record("run " + cmd)
			if strings.HasPrefix(cmd, "false") {
				return &CommandError{Command: cmd, Status: 1}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr, p
}

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (tr *tree) record(s string) {
	tr.mu.Lock()
	tr.log = append(tr.log, s)
	tr.mu.Unlock()
}

func (tr *tree) FinitModule(fd int, params string, flags int) error {
	path, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return err
	}
	name := strings.TrimSuffix(filepath.Base(path), ".ko")
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if e, ok := tr.fail[name]; ok {
		return &kernel.Error{Op: "finit_module", Errno: e}
	}
	dir := filepath.Join(tr.root, "sys/module", name)
	if _, err := os.Stat(dir); err == nil {
		return &kernel.Error{Op: "finit_module", Errno: syscall.EEXIST}
	}
	tr.n[name]++
	tr.log = append(tr.log, strings.TrimSpace("load "+name+" "+params))
	os.MkdirAll(filepath.Join(dir, "holders"), 0o755)
	os.WriteFile(filepath.Join(dir, "initstate"), []byte("live\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "refcnt"), []byte("0\n"), 0o644)
	return nil
}

func (tr *tree) InitModule(image []byte, params string) error {
	return errors.New("unexpected init_module")
}

func (tr *tree) DeleteModule(name string, flags int) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.log = append(tr.log, "unload "+name)
	return os.RemoveAll(filepath.Join(tr.root, "sys/module", name))
}

func lines(plan *Plan) []string {
	var out []string
	for _, t := range plan.Targets {
		for _, s := range t.Steps {
			out = append(out, strings.TrimSpace(s.Line()))
		}
	}
	return out
}

func TestInsertPlan(t *testing.T) {
	conf := `alias my-a a
options a x=1
options my-a y=2
softdep d pre: e post: b
install i-cmd echo hi $CMDLINE_OPTS
blacklist d
`
	_, p := newTree(t, conf)
	dir := p.Dir() + "/kernel/"
	tests := []struct {
		req  string
		opts InsertOptions
		want []string
	}{
		{"a", InsertOptions{}, []string{"insmod " + dir + "c.ko", "insmod " + dir + "b.ko", "insmod " + dir + "a.ko x=1"}},
		{"my-a", InsertOptions{Params: "z=3"}, []string{"insmod " + dir + "c.ko", "insmod " + dir + "b.ko", "insmod " + dir + "a.ko x=1 y=2 z=3"}},
		{"d", InsertOptions{}, []string{"insmod " + dir + "c.ko", "insmod " + dir + "e.ko", "insmod " + dir + "d.ko", "insmod " + dir + "c.ko", "insmod " + dir + "b.ko"}},
		{"i-cmd", InsertOptions{Params: "p=1"}, []string{"install echo hi $CMDLINE_OPTS p=1"}},
		{"symbol:c_func", InsertOptions{}, []string{"insmod " + dir + "c.ko"}},
		{"bi", InsertOptions{IgnoreLoaded: true}, []string{"builtin bi"}},
		{"bi-alias", InsertOptions{IgnoreLoaded: true}, []string{"builtin bi"}},
	}
	for _, tt := range tests {
		plan, err := p.Insert(tt.req, tt.opts)
		if err != nil {
			t.Errorf("Insert(%q) = %v", tt.req, err)
			continue
		}
		if diff := cmp.Diff(tt.want, lines(plan)); diff != "" {
			t.Errorf("Insert(%q) lines (-want +got):\n%s", tt.req, diff)
		}
	}
	// A blacklisted module is only skipped when found by an alias, or
	// with UseBlacklist.
	plan, err := p.Insert("pci:v00001234d00000001sv0", InsertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range plan.Targets {
		got = append(got, fmt.Sprintf("%s:%d", tg.Module.Name, tg.Outcome))
	}
	if want := []string{"d:2", "e:0"}; !cmp.Equal(got, want) {
		t.Errorf("Insert(pci alias) targets = %q, want %q", got, want)
	}
	if plan, _ := p.Insert("d", InsertOptions{UseBlacklist: true}); plan.Targets[0].Outcome != Blacklisted || plan.Targets[0].Blacklist.Source.Line != 6 {
		t.Errorf("Insert(d, -b) = %+v, want blacklisted by line 6", plan.Targets[0])
	}
	for _, req := range []string{"nosuch", "bad[alias"} {
		if _, err := p.Insert(req, InsertOptions{}); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrBadAlias) {
			t.Errorf("Insert(%q) = %v, want ErrNotFound or ErrBadAlias", req, err)
		}
	}
}

func TestExecute(t *testing.T) {
	tr, p := newTree(t, "options a x=1\ninstall e false\nremove a true rm-a\n")
	ctx := context.Background()
	plan, err := p.Insert("a", InsertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Execute(ctx, plan, ExecOptions{}); err != nil {
		t.Fatalf("Execute(a) = %v", err)
	}
	// Loaded now: a second plan has nothing to do, or fails with
	// FirstTime.
	plan, _ = p.Insert("a", InsertOptions{FirstTime: true})
	if err := p.Execute(ctx, plan, ExecOptions{}); !errors.Is(err, ErrAlreadyLoaded) {
		t.Errorf("Execute(a, first time) = %v, want ErrAlreadyLoaded", err)
	}
	// A failing install command names its configuration line.
	plan, _ = p.Insert("e", InsertOptions{})
	err = p.Execute(ctx, plan, ExecOptions{})
	var le *LoadError
	if !errors.As(err, &le) || !errors.Is(err, ErrCommand) || le.Step.Sources[0].Line != 2 {
		t.Errorf("Execute(e) = %v, want a command error from line 2", err)
	}
	// A kernel error is the step's error.
	tr.fail["d"] = syscall.ENOEXEC
	plan, _ = p.Insert("d", InsertOptions{})
	if err := p.Execute(ctx, plan, ExecOptions{}); !errors.Is(err, syscall.ENOEXEC) {
		t.Errorf("Execute(d) = %v, want ENOEXEC", err)
	}
	want := []string{"load c", "load b", "load a x=1", "run false"}
	if diff := cmp.Diff(want, tr.log); diff != "" {
		t.Errorf("syscalls (-want +got):\n%s", diff)
	}
	// Removing a runs its remove command.
	tr.log = nil
	rplan, err := p.Remove(ctx, "a", RemoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Execute(ctx, rplan, ExecOptions{}); err != nil {
		t.Errorf("Execute(remove a) = %v", err)
	}
	if diff := cmp.Diff([]string{"run true rm-a"}, tr.log); diff != "" {
		t.Errorf("remove (-want +got):\n%s", diff)
	}
	// Removing b: it is loaded and unused; then c, unused, follows.
	tr.log = nil
	rplan, _ = p.Remove(ctx, "b", RemoveOptions{})
	if err := p.Execute(ctx, rplan, ExecOptions{}); err != nil {
		t.Errorf("Execute(remove b) = %v", err)
	}
	if diff := cmp.Diff([]string{"unload b", "unload c"}, tr.log); diff != "" {
		t.Errorf("remove b (-want +got):\n%s", diff)
	}
	// Not loaded: nothing, or an error with FirstTime.
	rplan, _ = p.Remove(ctx, "b", RemoveOptions{FirstTime: true})
	if err := p.Execute(ctx, rplan, ExecOptions{}); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("Execute(remove b, first time) = %v, want ErrNotLoaded", err)
	}
}

func TestRemoveInUse(t *testing.T) {
	tr, p := newTree(t, "")
	ctx := context.Background()
	plan, _ := p.Insert("a", InsertOptions{})
	if err := p.Execute(ctx, plan, ExecOptions{}); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(tr.root, "sys/module/c/refcnt"), "1\n")
	write(t, filepath.Join(tr.root, "sys/module/c/holders/b"), "")
	rplan, _ := p.Remove(ctx, "c", RemoveOptions{})
	err := p.Execute(ctx, rplan, ExecOptions{})
	var re *RemoveError
	if !errors.As(err, &re) || re.Notice == nil || re.Notice.Kind != NoticeInUse || !cmp.Equal(re.Notice.Holders, []string{"b"}) {
		t.Errorf("Execute(remove c) = %v, want in use by b", err)
	}
}

func TestBatch(t *testing.T) {
	tr, p := newTree(t, "")
	var reqs []string
	for i := 0; i < 30; i++ {
		reqs = append(reqs, []string{"a", "b", "c", "d", "e", "fs-a"}[i%6])
	}
	reqs = append(reqs, "nosuch")
	errs := p.Batch(context.Background(), reqs, BatchOptions{Workers: 8})
	for i, err := range errs[:30] {
		if err != nil {
			t.Errorf("Batch request %d (%s) = %v", i, reqs[i], err)
		}
	}
	if !errors.Is(errs[30], ErrNotFound) {
		t.Errorf("Batch(nosuch) = %v, want ErrNotFound", errs[30])
	}
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		if tr.n[m] != 1 {
			t.Errorf("module %s loaded %d times, want once", m, tr.n[m])
		}
	}
	// Order: each module after what it needs.
	pos := map[string]int{}
	for i, l := range tr.log {
		pos[strings.Fields(l)[1]] = i
	}
	for _, dep := range [][2]string{{"c", "b"}, {"b", "a"}, {"c", "e"}} {
		if pos[dep[0]] > pos[dep[1]] {
			t.Errorf("%s loaded after %s: %q", dep[0], dep[1], tr.log)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, p2 := newTree(t, "")
	for _, err := range p2.Batch(ctx, []string{"a"}, BatchOptions{}) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Batch(cancelled) = %v, want context.Canceled", err)
		}
	}
}

func TestClosure(t *testing.T) {
	_, p := newTree(t, "install d false\n")
	c, err := p.Closure([]string{"fw", "a", "bi", "d", "nosuch"}, InsertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := p.Dir() + "/kernel/"
	want := &Closure{
		Files:    []string{dir + "c.ko", dir + "fw.ko", dir + "b.ko", dir + "a.ko"},
		Firmware: []string{"x/a.bin", "x/b.bin"},
		Builtin:  []string{"bi"},
		Missing:  []string{"nosuch"},
	}
	if diff := cmp.Diff(want, c, cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Commands" }, cmp.Ignore())); diff != "" {
		t.Errorf("Closure (-want +got):\n%s", diff)
	}
	if len(c.Commands) != 1 || c.Commands[0].Command != "false" {
		t.Errorf("Closure commands = %+v, want the install command of d", c.Commands)
	}
}

func TestModaliases(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "sys/devices/pci0000:00/0000:00:01.0/modalias"), "pci:v00001234d00000001sv0\n")
	write(t, filepath.Join(root, "sys/devices/pci0000:00/0000:00:02.0/modalias"), "pci:v00001234d00000001sv0\n")
	write(t, filepath.Join(root, "sys/devices/platform/x/modalias"), "platform:x\n")
	got, err := Modaliases(os.DirFS(root))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"pci:v00001234d00000001sv0", "platform:x"}; !cmp.Equal(got, want) {
		t.Errorf("Modaliases = %q, want %q", got, want)
	}
	if _, err := Modaliases(os.DirFS(t.TempDir())); err == nil {
		t.Error("Modaliases(no sys/devices) = nil error")
	}
}
