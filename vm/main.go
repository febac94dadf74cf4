package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// flavours in the order the tool provisions and tests them.
var flavours = []string{"debian61", "debian612", "secure"}

const usage = `usage:
  gokmod-vm provision [--kernel F]...
  gokmod-vm run [--kernel F] [--timeout D] [--env K=V]... -- CMD [ARGS...]
  gokmod-vm exec [--kernel F] [--timeout D] TESTBIN [ARGS...]
  gokmod-vm test [--kernel F]... [--jobs N] [--timeout D] [-- TEST-FLAGS...]
  gokmod-vm demo
  gokmod-vm modules --kdir DIR --out DIR
  gokmod-vm keys
kernel flavours: debian61 debian612 secure (default for run/exec: debian612)
`

// usageError is a command-line mistake: exit status 2 and the usage text.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	status, err := dispatch(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "gokmod-vm: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, usage)
		}
		if status <= 0 {
			status = 2
		}
	}
	os.Exit(status)
}

func dispatch(ctx context.Context, args []string) (int, error) {
	if len(args) == 0 {
		return 2, usagef("no command")
	}
	switch args[0] {
	case "provision":
		return cmdProvision(args[1:])
	case "run":
		return cmdRun(ctx, args[1:])
	case "exec":
		return cmdExec(ctx, args[1:])
	case "test":
		return cmdTest(ctx, args[1:])
	case "demo":
		return cmdDemo(ctx, args[1:])
	case "modules":
		return cmdModules(args[1:])
	case "keys":
		return cmdKeys(args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0, nil
	}
	return 2, usagef("unknown command %q", args[0])
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

// kernelList validates --kernel values; "all" or none means every flavour.
func kernelList(list []string, def []string) ([]string, error) {
	if len(list) == 0 {
		return def, nil
	}
	var out []string
	for _, k := range list {
		for _, k := range strings.Split(k, ",") {
			if k == "all" {
				out = append(out, flavours...)
				continue
			}
			ok := false
			for _, f := range flavours {
				ok = ok || f == k
			}
			if !ok {
				return nil, usagef("unknown kernel flavour %q (want %s)", k, strings.Join(flavours, ", "))
			}
			out = append(out, k)
		}
	}
	return out, nil
}

// prepared is a provisioned flavour: kernel, modules and keys.
type prepared struct {
	K       *Kernel
	Modules string
	Keys    *Keys
}

// provision makes every flavour ready, holding the cache lock so that
// parallel `go test -exec` runs do not build the same thing twice.
func provision(c *Cache, names []string, logw io.Writer) (map[string]*prepared, error) {
	unlock, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	keys, err := provisionKeys(c)
	if err != nil {
		return nil, err
	}
	out := map[string]*prepared{}
	for _, name := range names {
		if out[name] != nil {
			continue
		}
		var k *Kernel
		switch name {
		case "debian61", "debian612":
			pick := debian61Image
			if name == "debian612" {
				pick = debian612Image
			}
			pkg, err := pick()
			if err != nil {
				return nil, fmt.Errorf("provision %s: %w", name, err)
			}
			k, err = provisionDebian(c, name, pkg, logw)
			if err != nil {
				return nil, err
			}
		case "secure":
			k, err = provisionSecure(c, keys, logw)
			if err != nil {
				return nil, err
			}
		}
		k.Image = pvhImage(k.Image, logw)
		mods, err := provisionModules(c, k, logw)
		if err != nil {
			return nil, err
		}
		out[name] = &prepared{K: k, Modules: mods, Keys: keys}
	}
	return out, nil
}

func cmdProvision(args []string) (int, error) {
	fs := newFlags("provision")
	var kernels multiFlag
	fs.Var(&kernels, "kernel", "flavour")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if fs.NArg() > 0 {
		return 2, usagef("provision: unexpected %q", fs.Arg(0))
	}
	names, err := kernelList(kernels, flavours)
	if err != nil {
		return 2, err
	}
	c, err := openCache()
	if err != nil {
		return 1, err
	}
	for _, name := range names {
		start := time.Now()
		p, err := provision(c, []string{name}, os.Stderr)
		if err != nil {
			return 1, err
		}
		fmt.Printf("%-10s %s (%s) in %.1fs\n  kernel  %s\n  build   %s\n  modules %s\n  keys    %s\n",
			name, p[name].K.Release, p[name].K.ID, time.Since(start).Seconds(),
			p[name].K.Image, p[name].K.BuildDir, p[name].Modules, p[name].Keys.Dir)
	}
	return 0, nil
}

// lock takes the cache's lock; parallel runs wait for each other while they
// provision, build the tools and write their initramfs, never while they boot.
func (c *Cache) lock() (unlock func(), err error) {
	f, err := os.OpenFile(c.path(".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	return func() { f.Close() }, nil
}

// repoRoot is the directory of the gokmod module (the tools and the guest
// init are built from it).
func repoRoot() (string, error) {
	out, err := output("", "go", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(out)
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run gokmod-vm inside the gokmod checkout (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// toolset is the host-built guest init and our static tools. They live in
// the cache (tools/), where go build relinks only what changed.
type toolset struct {
	Init, Tools string
}

// buildTools builds the guest init and every main package under cmd/ that
// compiles; one that does not is reported and left out. The caller holds
// the cache lock.
func buildTools(c *Cache, logw io.Writer) (*toolset, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dir := c.path("tools")
	ts := &toolset{Init: filepath.Join(dir, "init"), Tools: filepath.Join(dir, "bin")}
	if err := os.MkdirAll(ts.Tools, 0o755); err != nil {
		return nil, err
	}
	gobuild := func(out string, pkgs ...string) error {
		cmd := exec.Command("go", append([]string{"build", "-trimpath", "-o", out}, pkgs...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, strings.TrimSpace(string(b)))
		}
		return nil
	}
	if err := gobuild(ts.Init, "./vm/guest"); err != nil {
		return nil, err
	}
	list, err := output(root, "go", "list", "-e", "-f", `{{if eq .Name "main"}}{{.ImportPath}}{{end}}`, "./cmd/...")
	if err != nil {
		return nil, err
	}
	pkgs := strings.Fields(list)
	want := map[string]bool{}
	for _, p := range pkgs {
		want[filepath.Base(p)] = true
	}
	// Binaries of commands that no longer exist must not linger.
	old, err := listFiles(ts.Tools)
	if err != nil {
		return nil, err
	}
	for _, name := range old {
		if !want[name] {
			os.Remove(filepath.Join(ts.Tools, name))
		}
	}
	if len(pkgs) == 0 {
		return ts, nil
	}
	if err := gobuild(ts.Tools+"/", pkgs...); err != nil {
		for _, p := range pkgs {
			if err := gobuild(ts.Tools+"/", p); err != nil {
				// A stale binary must not stand in for a broken command.
				os.Remove(filepath.Join(ts.Tools, filepath.Base(p)))
				fmt.Fprintf(logw, "gokmod-vm: warning: %s does not build, left out of the guest: %v\n", p, firstLine(err.Error()))
			}
		}
	}
	return ts, nil
}

func lockedBuildTools(c *Cache) (*toolset, error) {
	unlock, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return buildTools(c, os.Stderr)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// guestCmd is one command to run in a guest.
type guestCmd struct {
	Argv    []string
	Env     []string
	Extra   map[string]string // guest path -> host file
	Cwd     string
	CopyDir string
	Timeout time.Duration
	Out     io.Writer
}

// runGuest boots p's kernel with the initramfs for r and returns the
// command's exit status. The run directory keeps the kernel log when the
// run fails.
func runGuest(ctx context.Context, c *Cache, p *prepared, ts *toolset, r *guestCmd) (int, error) {
	runs := c.path("runs")
	if err := os.MkdirAll(runs, 0o755); err != nil {
		return -1, err
	}
	dir, err := os.MkdirTemp(runs, p.K.Flavour+"-"+time.Now().UTC().Format("20060102-150405")+"-")
	if err != nil {
		return -1, err
	}
	env := []string{
		"GOKMOD_FLAVOUR=" + p.K.Flavour,
		"GOKMOD_MODULES=" + guestModules,
		"GOKMOD_BIN=" + guestBin,
		"GOKMOD_KMOD_DIR=" + guestKmod,
		"GOKMOD_KEYS=" + guestKeys,
		"PATH=" + guestBin + ":/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root",
		"TMPDIR=/tmp",
	}
	if p.K.SignFile != "" {
		if _, err := os.Stat(p.K.SignFile); err == nil {
			env = append(env, "GOKMOD_SIGN_FILE="+guestSign)
		}
	}
	g := &guestFiles{
		Init: ts.Init, Tools: ts.Tools, Modules: p.Modules, Keys: p.Keys.Dir, SignFile: p.K.SignFile,
		Extra: r.Extra, Argv: r.Argv, Env: append(env, r.Env...), Cwd: r.Cwd, CopyDir: r.CopyDir,
	}
	if g.Cwd == "" {
		g.Cwd = "/root"
	}
	initrd := filepath.Join(dir, "initramfs.cpio")
	f, err := os.Create(initrd)
	if err != nil {
		return -1, err
	}
	unlock, err := c.lock()
	if err != nil {
		f.Close()
		return -1, err
	}
	start := time.Now()
	werr := writeInitramfs(f, g)
	unlock()
	if os.Getenv("GOKMOD_VM_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "gokmod-vm: initramfs written in %v\n", time.Since(start))
		defer func(t time.Time) { fmt.Fprintf(os.Stderr, "gokmod-vm: boot took %v\n", time.Since(t)) }(time.Now())
	}
	if err := errors.Join(werr, f.Close()); err != nil {
		os.RemoveAll(dir)
		return -1, fmt.Errorf("write initramfs: %w", err)
	}
	status, err := boot(ctx, &bootSpec{
		Kernel: p.K, Initrd: initrd, Timeout: r.Timeout, Out: r.Out,
		LogPath: filepath.Join(dir, "kernel.log"),
	})
	os.Remove(initrd)
	if err == nil && status == 0 {
		os.RemoveAll(dir)
	} else if err == nil {
		fmt.Fprintf(os.Stderr, "gokmod-vm: %s: exit status %d; kernel log: %s\n", p.K.Flavour, status, filepath.Join(dir, "kernel.log"))
	}
	return status, err
}

// prepare opens the cache, provisions the flavours and builds the guest
// tools: what every command that boots a guest does first.
func prepare(names []string) (*Cache, map[string]*prepared, *toolset, error) {
	c, err := openCache()
	if err != nil {
		return nil, nil, nil, err
	}
	ps, err := provision(c, names, os.Stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	ts, err := lockedBuildTools(c)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, ps, ts, nil
}

// session is what prepare returns, plus a scratch directory under the
// cache for the files a command hands its guests.
type session struct {
	c   *Cache
	ps  map[string]*prepared
	ts  *toolset
	tmp string // removed by close
}

// openSession prepares the flavours and makes the scratch directory.
func openSession(names []string) (*session, error) {
	c, ps, ts, err := prepare(names)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(c.path("tmp"), "run-")
	if err != nil {
		return nil, err
	}
	return &session{c: c, ps: ps, ts: ts, tmp: tmp}, nil
}

// close removes the scratch directory.
func (s *session) close() { os.RemoveAll(s.tmp) }

func cmdRun(ctx context.Context, args []string) (int, error) {
	fs := newFlags("run")
	kernel := fs.String("kernel", "debian612", "flavour")
	timeout := fs.Duration("timeout", 10*time.Minute, "")
	var envs multiFlag
	fs.Var(&envs, "env", "K=V")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if _, err := kernelList([]string{*kernel}, nil); err != nil {
		return 2, err
	}
	if fs.NArg() == 0 {
		return 2, usagef("run: no command")
	}
	c, ps, ts, err := prepare([]string{*kernel})
	if err != nil {
		return 1, err
	}
	p := ps[*kernel]
	return runGuest(ctx, c, p, ts, &guestCmd{
		Argv: fs.Args(), Env: envs, Timeout: *timeout, Out: os.Stdout,
	})
}

// cmdExec is the `go test -exec` wrapper: it runs a test binary in the
// guest, in a directory holding a copy of the package's testdata.
func cmdExec(ctx context.Context, args []string) (int, error) {
	fs := newFlags("exec")
	kernel := fs.String("kernel", "debian612", "flavour")
	timeout := fs.Duration("timeout", 0, "")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if _, err := kernelList([]string{*kernel}, nil); err != nil {
		return 2, err
	}
	if fs.NArg() == 0 {
		return 2, usagef("exec: no test binary")
	}
	bin, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return 2, err
	}
	d := *timeout
	if d == 0 {
		d = 30 * time.Minute
		for _, a := range fs.Args()[1:] {
			if v, ok := strings.CutPrefix(a, "-test.timeout="); ok {
				if t, err := time.ParseDuration(v); err == nil && t > 0 {
					d = t + 2*time.Minute
				}
			}
		}
	}
	c, ps, ts, err := prepare([]string{*kernel})
	if err != nil {
		return 1, err
	}
	p := ps[*kernel]
	guestBinPath := guestRun + "/" + filepath.Base(bin)
	r := &guestCmd{
		Argv:    append([]string{guestBinPath}, fs.Args()[1:]...),
		Extra:   map[string]string{guestBinPath: bin},
		Cwd:     guestPkg,
		Timeout: d,
		Out:     os.Stdout,
	}
	if st, err := os.Stat("testdata"); err == nil && st.IsDir() {
		r.CopyDir, _ = filepath.Abs("testdata")
	}
	return runGuest(ctx, c, p, ts, r)
}

func cmdModules(args []string) (int, error) {
	fs := newFlags("modules")
	kdir := fs.String("kdir", "", "kbuild tree")
	out := fs.String("out", "", "output directory")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if *kdir == "" || *out == "" || fs.NArg() > 0 {
		return 2, usagef("modules: need --kdir and --out")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return 1, err
	}
	if err := buildModules(*kdir, *out, os.Stderr); err != nil {
		return 1, fmt.Errorf("build modules: %w", err)
	}
	fmt.Println(*out)
	return 0, nil
}

func cmdKeys(args []string) (int, error) {
	if len(args) > 0 {
		return 2, usagef("keys: unexpected %q", args[0])
	}
	c, err := openCache()
	if err != nil {
		return 1, err
	}
	k, err := provisionKeys(c)
	if err != nil {
		return 1, err
	}
	fmt.Println(k.Dir)
	return 0, nil
}
