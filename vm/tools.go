package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

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
	// One directory per checkout: worktrees of one repository share the
	// cache, and must not hand each other's tools to their guests.
	dir := c.path("tools", hashStrings(root))
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
