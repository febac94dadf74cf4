package tests

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
)

// firstLine is the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// kmodLine is kmod's own error line in its stderr: the last line that
// starts with the tool's "NAME: ERROR:" prefix (libkmod may log before).
func kmodLine(s, tool string) string {
	var last string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, tool+": ERROR: ") {
			last = l
		}
	}
	return last
}

// TestLoadFailures loads modules that the kernel refuses, with goinsmod and
// with kmod's insmod: the exit codes and the error line must be equal, and
// goinsmod must show the kernel's own message and a hint.
func TestLoadFailures(t *testing.T) {
	b := newBed(t)
	enforcing := b.enforcing()
	text := b.write("notamodule.ko", []byte("this is not an ELF file\n"))

	type tc struct {
		name     string
		file     func() string
		params   []string
		preload  string              // a module loaded before the case
		cred     *syscall.Credential // run as another user
		only     func() bool         // the case applies to this kernel
		wantCode int
		wantLine string // goinsmod's ERROR line, without the file name part ("" when the load succeeds)
		wantKmsg string // a kernel message goinsmod shows
		wantHint string // a substring of the hint
	}
	always := func() bool { return true }
	cases := []tc{
		{name: "vermagic", file: func() string { return b.module("kaidock_badmagic") }, only: always,
			wantCode: 1, wantLine: "Invalid module format", wantKmsg: "version magic", wantHint: "--force-vermagic"},
		{name: "symbol version", file: func() string { return b.prepare("kaidock.ko", badCRC(t, b.rawModule("kaidock"))) }, only: always,
			wantCode: 1, wantKmsg: "disagrees about version of symbol", wantHint: "rebuild it against"},
		{name: "unknown symbol", file: func() string { return b.module("kaidock_unknownsym") }, only: always,
			wantCode: 1, wantLine: "Unknown symbol in module", wantKmsg: "Unknown symbol", wantHint: "exports"},
		{name: "symbol from another module", file: func() string { return b.module("kaidock_user") }, only: always,
			wantCode: 1, wantLine: "Unknown symbol in module", wantKmsg: "Unknown symbol kaidock_export_value", wantHint: "kaidock_export"},
		{name: "gpl only", file: func() string { return b.module("kaidock_gplonly") }, only: always,
			wantCode: 1, wantLine: "Unknown symbol in module", wantKmsg: "Unknown symbol", wantHint: "GPL"},
		{name: "unsigned", file: func() string { return filepath.Join(b.mods, "kaidock.ko") }, only: func() bool { return enforcing },
			wantCode: 1, wantLine: "Key was rejected by service", wantKmsg: "Loading of unsigned module is rejected", wantHint: "gokmodsign"},
		{name: "untrusted", file: func() string {
			return b.sign(filepath.Join(b.mods, "kaidock.ko"), "untrusted", filepath.Join(b.tmp, "kaidock.ko"))
		}, only: func() bool { return enforcing },
			wantCode: 1, wantLine: "Key was rejected by service", wantKmsg: "is rejected", wantHint: "does not trust"},
		{name: "already loaded", file: func() string { return b.module("kaidock") }, preload: "kaidock", only: always,
			wantCode: 1, wantLine: "File exists", wantHint: "already loaded"},
		{name: "unknown parameter", file: func() string { return b.module("kaidock") }, params: []string{"loop=1", "bogus=1"}, only: always,
			wantCode: 0, wantKmsg: "unknown parameter 'bogus' ignored", wantHint: "no parameter bogus"},
		{name: "not privileged", file: func() string { return b.module("kaidock") }, cred: &syscall.Credential{Uid: 65534, Gid: 65534}, only: always,
			wantCode: 1, wantLine: "Operation not permitted", wantHint: "CAP_SYS_MODULE"},
		{name: "not a module", file: func() string { return text }, only: func() bool { return !enforcing },
			wantCode: 1, wantLine: "Invalid module format", wantHint: "not a kernel module"},
		{name: "not a module, enforcing", file: func() string { return text }, only: func() bool { return enforcing },
			wantCode: 1, wantLine: "Key was rejected by service", wantHint: "signature"},
	}
	b.providerIndex()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !c.only() {
				t.Skip("does not apply to this kernel")
			}
			unloadAfter(t, "kaidock", "kaidock_badmagic", "kaidock_user", "kaidock_export")
			file := c.file()
			if c.preload != "" {
				if err := loader.Load(b.module(c.preload), loader.Options{Params: "loop=1"}); err != nil {
					t.Fatalf("preload %s: %v", c.preload, err)
				}
			}
			args := append([]string{file}, c.params...)
			unloadNew := func() {
				if c.preload == "" {
					for _, n := range []string{"kaidock", "kaidock_badmagic"} {
						if loaded(n) {
							loader.Unload(n, loader.UnloadOptions{})
						}
					}
				}
			}
			ref := b.runAs(c.cred, b.tool("", "insmod"), args...)
			unloadNew()
			got := b.runAs(c.cred, b.tool("goinsmod", "insmod"), args...)
			unloadNew()
			t.Logf("kmod insmod: %d %q", ref.code, ref.stderr)
			t.Logf("goinsmod:    %d %q", got.code, got.stderr)

			if got.code != c.wantCode || ref.code != got.code {
				t.Errorf("exit code: goinsmod %d, kmod %d, want %d", got.code, ref.code, c.wantCode)
			}
			if c.wantCode != 0 {
				line := firstLine(got.stderr)
				if want := kmodLine(ref.stderr, "insmod"); line != want {
					t.Errorf("goinsmod's error line = %q, kmod's = %q", line, want)
				}
				prefix := "insmod: ERROR: could not insert module " + file + ": "
				if !strings.HasPrefix(line, prefix) || c.wantLine != "" && line != prefix+c.wantLine {
					t.Errorf("goinsmod's error line = %q, want %q", line, prefix+c.wantLine)
				}
			}
			if c.wantKmsg != "" && !strings.Contains(got.stderr, c.wantKmsg) {
				t.Errorf("goinsmod's stderr does not show the kernel's %q:\n%s", c.wantKmsg, got.stderr)
			}
			var hint string
			for _, l := range strings.Split(got.stderr, "\n") {
				if strings.HasPrefix(l, "hint: ") {
					hint = l
				}
			}
			if !strings.Contains(hint, c.wantHint) {
				t.Errorf("goinsmod's hint = %q, want it to hold %q", hint, c.wantHint)
			}
		})
	}
}

// providerIndex makes sure modules.symbols of the running kernel says that
// kaidock_export exports kaidock_export_value, the way depmod would after
// installing the test modules, so that the hint can name the provider.
func (b *bed) providerIndex() {
	release, err := kernel.Release()
	if err != nil {
		b.t.Fatal(err)
	}
	dir := filepath.Join("/lib/modules", release)
	path := filepath.Join(dir, "modules.symbols")
	line := "alias symbol:kaidock_export_value kaidock_export\n"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		b.t.Fatal(err)
	}
	if strings.Contains(string(old), line) {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Skipf("cannot write %s: %v", dir, err)
	}
	if err := os.WriteFile(path, append(old, line...), 0o644); err != nil {
		b.t.Skipf("cannot write %s: %v", path, err)
	}
	b.t.Cleanup(func() {
		if old == nil {
			os.Remove(path)
		} else {
			os.WriteFile(path, old, 0o644)
		}
	})
}

// TestUnloadFailures compares gormmod with kmod's rmmod.
func TestUnloadFailures(t *testing.T) {
	b := newBed(t)
	b.cleanup("kaidock_user", "kaidock_export", "kaidock")
	for _, n := range []string{"kaidock_export", "kaidock_user"} {
		if err := loader.Load(b.module(n), loader.Options{}); err != nil {
			t.Fatalf("Load(%s) = %v", n, err)
		}
	}
	builtin := builtinWithDir(t)
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantLine string
		wantHint string
	}{
		{"in use", []string{"kaidock_export"}, 1, "rmmod: ERROR: Module kaidock_export is in use by: kaidock_user", "gormmod kaidock_user kaidock_export"},
		{"not loaded", []string{"kaidock"}, 1, "rmmod: ERROR: Module kaidock is not currently loaded", "golsmod"},
		{"built in", []string{builtin}, 1, "rmmod: ERROR: Module " + builtin + " is builtin.", "built into the kernel"},
		{"no argument", nil, 1, "rmmod: ERROR: missing module name.", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if len(c.args) > 0 && c.args[0] == "" {
				t.Skip("no built-in module with a /sys/module directory")
			}
			ref := b.run(b.tool("", "rmmod"), c.args...)
			got := b.run(b.tool("gormmod", "rmmod"), c.args...)
			t.Logf("kmod rmmod: %d %q", ref.code, ref.stderr)
			t.Logf("gormmod:    %d %q", got.code, got.stderr)
			if got.code != c.wantCode || ref.code != got.code {
				t.Errorf("exit code: gormmod %d, kmod %d, want %d", got.code, ref.code, c.wantCode)
			}
			line := firstLine(got.stderr)
			if line != c.wantLine {
				t.Errorf("gormmod's first line = %q, want %q", line, c.wantLine)
			}
			// kmod 30 recognises a built-in module only from modules.builtin
			// (absent here); without it, it reports a libkmod error and
			// "Module unloading is not supported". gormmod also takes a
			// /sys/module directory without initstate for built in.
			if ref := kmodLine(ref.stderr, "rmmod"); line != ref && c.name != "built in" {
				t.Errorf("gormmod's first line = %q, kmod's = %q", line, ref)
			}
			if c.wantHint != "" && !strings.Contains(got.stderr, "hint: ") || !strings.Contains(got.stderr, c.wantHint) {
				t.Errorf("gormmod's stderr = %q, want a hint holding %q", got.stderr, c.wantHint)
			}
		})
	}
	// Success: both exit 0 silently.
	for _, tool := range []string{"", "gormmod"} {
		if err := loader.Load(b.module("kaidock"), loader.Options{Params: "loop=1"}); err != nil {
			t.Fatal(err)
		}
		if r := b.run(b.tool(tool, "rmmod"), "kaidock"); r.code != 0 || r.stderr != "" {
			t.Errorf("%s rmmod kaidock = %d, %q; want 0", tool, r.code, r.stderr)
		}
	}
}

// builtinWithDir finds a built-in module that has a /sys/module directory
// (one with parameters), or "".
func builtinWithDir(t *testing.T) string {
	ents, err := os.ReadDir("/sys/module")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join("/sys/module", e.Name(), "initstate")); os.IsNotExist(err) {
			if _, err := os.Stat(filepath.Join("/sys/module", e.Name(), "parameters")); err == nil {
				return e.Name()
			}
		}
	}
	return ""
}
