package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gokmod/gokmod/vm/contract"
)

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
		contract.EnvFlavour + "=" + p.K.Flavour,
		contract.EnvModules + "=" + contract.Modules,
		contract.EnvBin + "=" + contract.Bin,
		contract.EnvKmodDir + "=" + contract.Kmod,
		contract.EnvKeys + "=" + contract.Keys,
		"PATH=" + contract.Bin + ":/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root",
		"TMPDIR=/tmp",
	}
	if p.K.SignFile != "" {
		if _, err := os.Stat(p.K.SignFile); err == nil {
			env = append(env, contract.EnvSignFile+"="+contract.Sign)
		}
	}
	g := &guestFiles{
		Init: ts.Init, Tools: ts.Tools, Modules: p.Modules, Keys: p.Keys.Dir, SignFile: p.K.SignFile,
		Extra: r.Extra, Argv: r.Argv, Env: append(env, r.Env...), Cwd: r.Cwd, CopyDir: r.CopyDir,
	}
	if g.Cwd == "" {
		g.Cwd = "/root"
	}
	if err := addModuleTree(c, p, g); err != nil {
		return -1, err
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
	accel, err := pickAccel(ctx, c, p.K, ts.Init, os.Stderr)
	if err != nil {
		os.RemoveAll(dir)
		return -1, err
	}
	status, err := boot(ctx, &bootSpec{
		Kernel: p.K, Accel: accel, Initrd: initrd, Timeout: r.Timeout, Out: r.Out,
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
	guestBinPath := contract.Run + "/" + filepath.Base(bin)
	r := &guestCmd{
		Argv:    append([]string{guestBinPath}, fs.Args()[1:]...),
		Extra:   map[string]string{guestBinPath: bin},
		Cwd:     contract.Pkg,
		Timeout: d,
		Out:     os.Stdout,
	}
	if st, err := os.Stat("testdata"); err == nil && st.IsDir() {
		r.CopyDir, _ = filepath.Abs("testdata")
	}
	return runGuest(ctx, c, p, ts, r)
}
