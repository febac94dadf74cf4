package modprobe

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/moddb/moddbtest"
)

// The differential test runs kmod 30's modprobe and ours on Debian's 6.1
// module tree without loading anything (-d ROOT -S KVER -C CONFIG with
// --show-depends, -R, -c, -n -v) and fails on any byte of difference in
// stdout, stderr (our "hint:" lines aside) or exit status.
//
// Allow-list (documented in the README): -h (our help lists --json), -V
// (our version line), -v given twice or more (libkmod's INFO and DEBUG
// lines print its internal pointers); none of them is run here.

// env is what the differential runs share.
type env struct {
	bin  string // kmod's modprobe
	kver string
	root string // a directory with lib/modules/KVER linked to the tree
	conf []string
}

func kmodEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("differential test skipped in -short mode")
	}
	tree, kver := moddbtest.Debian61(t)
	e := &env{bin: moddbtest.KmodTool(t, "modprobe"), kver: kver, root: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(e.root, "lib/modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(tree, filepath.Join(e.root, "lib/modules", e.kver)); err != nil {
		t.Fatal(err)
	}
	// The configuration: testdata/conf/{etc,run,lib} in precedence
	// order, copied so that a directory named like a file can join them.
	confRoot := t.TempDir()
	for _, d := range []string{"etc", "run", "lib"} {
		dst := filepath.Join(confRoot, d)
		if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata/conf", d))); err != nil {
			t.Fatal(err)
		}
		e.conf = append(e.conf, dst)
	}
	if err := os.Mkdir(filepath.Join(confRoot, "run", "nested.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Unsetenv("MODPROBE_OPTIONS"); err != nil {
		t.Fatal(err)
	}
	return e
}

// base are the options every run has: the tree and the configuration.
func (e *env) base() []string {
	args := []string{"-d", e.root, "-S", e.kver}
	for _, c := range e.conf {
		args = append(args, "-C", c)
	}
	return args
}

type result struct {
	stdout, stderr string
	status         int
}

func (e *env) kmod(t *testing.T, environ []string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := &exec.Cmd{Path: e.bin, Args: append([]string{"modprobe"}, args...), Stdout: &stdout, Stderr: &stderr, Env: environ}
	err := cmd.Run()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", e.bin, err)
	}
	return result{stdout.String(), stderr.String(), status}
}

var hintLine = regexp.MustCompile(`(?m)^hint: .*\n`)

func ours(args ...string) result {
	var stdout, stderr bytes.Buffer
	status := Main(&tool.Env{Args: append([]string{"modprobe"}, args...), Stdout: &stdout, Stderr: &stderr})
	return result{stdout.String(), hintLine.ReplaceAllString(stderr.String(), ""), status}
}

func diffResults(kmod, ours result) string {
	var b strings.Builder
	if kmod.status != ours.status {
		fmt.Fprintf(&b, "exit status %d, kmod %d\n", ours.status, kmod.status)
	}
	if kmod.stdout != ours.stdout {
		fmt.Fprintf(&b, "stdout:\n%s\nkmod stdout:\n%s\n", clip(ours.stdout), clip(kmod.stdout))
	}
	if kmod.stderr != ours.stderr {
		fmt.Fprintf(&b, "stderr:\n%s\nkmod stderr:\n%s\n", clip(ours.stderr), clip(kmod.stderr))
	}
	return b.String()
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}

// compare runs both on opts followed by each batch of names (with -a);
// a batch that differs is run again name by name to report the names
// that differ. Batches run two at a time.
func (e *env) compare(t *testing.T, opts []string, names []string) {
	t.Helper()
	const batch = 200
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	var failures []string
	for i := 0; i < len(names); i += batch {
		chunk := names[i:min(i+batch, len(names))]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			args := append(append(e.base(), opts...), chunk...)
			o, k := ours(args...), e.kmod(t, nil, args...)
			if k.stdout == "" {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("modprobe %s: kmod printed nothing: the comparison proves nothing", strings.Join(args, " ")))
				mu.Unlock()
			}
			if o == k {
				return
			}
			for _, n := range chunk {
				args := append(append(e.base(), opts...), n)
				if o, k := ours(args...), e.kmod(t, nil, args...); o != k {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("modprobe %s:\n%s", strings.Join(args, " "), diffResults(k, o)))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	report(t, failures)
}

func report(t *testing.T, failures []string) {
	t.Helper()
	sort.Strings(failures)
	for i, f := range failures {
		if i == 20 {
			t.Errorf("... and %d more differences", len(failures)-20)
			break
		}
		t.Error(f)
	}
}

// names are the module names of modules.dep; aliases the wildcard-free
// patterns of modules.alias, each once.
func (e *env) indexes(t *testing.T) (names, aliases []string) {
	t.Helper()
	dir := filepath.Join(e.root, "lib/modules", e.kver)
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p, _, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		base := filepath.Base(p)
		names = append(names, base[:strings.IndexByte(base, '.')])
	}
	a, err := os.Open(filepath.Join(dir, "modules.alias"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	seen := map[string]bool{}
	sc = bufio.NewScanner(a)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "alias" || strings.ContainsAny(f[1], "*?[]") || seen[f[1]] {
			continue
		}
		seen[f[1]] = true
		aliases = append(aliases, f[1])
	}
	return names, aliases
}

func TestDiffShowDepends(t *testing.T) {
	e := kmodEnv(t)
	names, aliases := e.indexes(t)
	t.Logf("--show-depends: %d module names, %d wildcard-free aliases", len(names), len(aliases))
	e.compare(t, []string{"-a", "--show-depends"}, names)
	e.compare(t, []string{"-a", "--show-depends"}, aliases)
}

func TestDiffResolveAlias(t *testing.T) {
	e := kmodEnv(t)
	_, aliases := e.indexes(t)
	t.Logf("-R: %d aliases", len(aliases))
	e.compare(t, []string{"-a", "-R"}, aliases)
}

func TestDiffDryRun(t *testing.T) {
	e := kmodEnv(t)
	names, aliases := e.indexes(t)
	var sample []string
	for i := 0; i < len(names); i += 20 {
		sample = append(sample, names[i])
	}
	for i := 0; i < len(aliases); i += 40 {
		sample = append(sample, aliases[i])
	}
	t.Logf("-n -v: a sample of %d names and aliases", len(sample))
	e.compare(t, []string{"-a", "-n", "-v"}, sample)
}

// TestDiffCases runs single command lines: the configuration, every
// directive's effect, missing modules and bad arguments.
func TestDiffCases(t *testing.T) {
	e := kmodEnv(t)
	cases := [][]string{
		{"-c"}, {"--show-config"}, {"--showconfig"},
		// Configuration aliases, options, install commands, softdeps,
		// blacklists (aliases only, and with -b).
		{"-D", "my-fs"}, {"-D", "pat-1x"}, {"-D", "blk-alias"}, {"-D", "nomod-alias"},
		{"-D", "fs-vfat"}, {"-D", "vfat"}, {"-D", "btrfs"}, {"-D", "ext4"},
		{"-D", "snd-hda-intel"}, {"-D", "snd_hda_intel", "extra=1", "x=a b"},
		{"-D", "dummy-inst"}, {"fail-inst"}, {"-v", "fail-inst", "a=1"}, {"dummy-inst"}, {"-D", "isofs"}, {"-D", "udf"}, {"-D", "-i", "isofs"},
		{"-D", "msdos"}, {"-D", "-b", "msdos"}, {"-D", "nls_utf8"}, {"-D", "-b", "nls_utf8"},
		{"-D", "leading-space"}, {"-D", "loop"}, {"-D", "from-lib"}, {"-D", "same-name"},
		{"-D", "hidden-by-etc"}, {"-D", "from-run-alias-file"}, {"-D", "hidden-file"},
		{"-D", "not-read"}, {"-D", "no-newline-at-end"}, {"-D", "cifs"},
		{"-R", "my-fs"}, {"-R", "fs-vfat"}, {"-R", "pat-7"}, {"-R", "nomod-alias"}, {"-R", "symbol:fat_attach"},
		{"-D", "symbol:fat_attach"}, {"-D", "crc32c"}, {"-D", "crypto-crc32c"},
		{"-n", "-v", "vfat"}, {"-n", "-v", "isofs", "a=1"}, {"-n", "-v", "-i", "isofs"},
		{"-n", "vfat"}, {"-n", "-q", "nosuchmod"},
		{"-n", "-v", "--first-time", "vfat"}, {"-n", "-v", "-f", "vfat"},
		// Built-in modules.
		{"-D", "ext4"}, {"-n", "-v", "unix"}, {"-D", "unix"}, {"-R", "unix"},
		// Removal in a dry run (nothing is loaded here).
		{"-r", "-n", "-v", "vfat"}, {"-r", "-n", "-v", "dummy-inst"}, {"-r", "-n", "-v", "isofs"},
		{"-r", "-n", "-v", "--first-time", "vfat"}, {"-r", "-n", "unix"}, {"-r", "-n", "-a", "unix", "vfat"},
		{"-r", "-n", "nosuchmod"}, {"-r", "-n", "-a", "nosuchmod", "vfat"},
		// Missing modules and bad names.
		{"-D", "nosuchmod"}, {"-a", "-D", "nosuchmod", "vfat"}, {"-R", "nosuchmod"},
		{"-D", "bad[alias"}, {"-D", "bad]alias"}, {"-q", "-D", "nosuchmod"},
		{"-D", "sym:"}, {"-D", ""}, {"-D", "a*"},
		// Module files for --show-modversions and --show-exports.
		{"--show-modversions", "/nonexistent.ko"},
		// Usage errors.
		{}, {"-x"}, {"--nosuch"}, {"--s"}, {"--force-=1"}, {"--all=3"},
		{"-w"}, {"--wait"}, {"-w", "abc", "x"}, {"-w", "", "x"}, {"-w", "0x10", "-n", "-r", "vfat"},
		{"-C"}, {"-d"}, {"-S"}, {"--remove-", "-n", "vfat"}, {"--ignore-", "-D", "isofs"},
		{"-D", "--", "vfat"}, {"--show-dep", "vfat"}, {"--dry", "-v", "vfat"},
		// -s: messages to the system log, usage errors still on stderr.
		{"-s", "-D", "nosuchmod"}, {"-s", "-D", "vfat"}, {"-s"}, {"-s", "-x"}, {"-s", "fail-inst"},
	}
	dir := filepath.Join(e.root, "lib/modules", e.kver)
	if mods, _ := filepath.Glob(filepath.Join(dir, "kernel/fs/fat/*.ko")); len(mods) > 0 {
		for _, m := range mods {
			cases = append(cases, []string{"--show-modversions", m}, []string{"--dump-modversions", m}, []string{"--show-exports", m})
		}
	}
	var failures []string
	for _, c := range cases {
		args := append(e.base(), c...)
		if o, k := ours(args...), e.kmod(t, nil, args...); o != k {
			failures = append(failures, fmt.Sprintf("modprobe %q:\n%s", c, diffResults(k, o)))
		}
	}
	// Without -C: the default directories of this system.
	for _, c := range [][]string{{"-c"}, {"-D", "vfat"}} {
		args := append([]string{"-d", e.root, "-S", e.kver}, c...)
		if o, k := ours(args...), e.kmod(t, nil, args...); o != k {
			failures = append(failures, fmt.Sprintf("modprobe %q:\n%s", args, diffResults(k, o)))
		}
	}
	// MODPROBE_OPTIONS comes before the arguments.
	for _, v := range []string{"-v -n", `-v "-n"`, `-C "/nonexistent" -v`, "-q", `'-C' ` + e.conf[0] + " -v", "-v  -n", `-"n"v`} {
		args := append(e.base(), "vfat")
		k := e.kmod(t, append(os.Environ(), "MODPROBE_OPTIONS="+v), args...)
		os.Setenv("MODPROBE_OPTIONS", v)
		o := ours(args...)
		os.Unsetenv("MODPROBE_OPTIONS")
		if o != k {
			failures = append(failures, fmt.Sprintf("MODPROBE_OPTIONS=%q modprobe %q:\n%s", v, args, diffResults(k, o)))
		}
	}
	t.Logf("%d single command lines", len(cases)+8)
	report(t, failures)
}
