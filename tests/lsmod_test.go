package tests

import (
	"encoding/json"
	"testing"

	"github.com/gokmod/gokmod/pkg/loader"
)

// TestLsmodMatchesKmod compares golsmod with kmod's lsmod, byte for byte,
// with several modules loaded, one of them holding another.
func TestLsmodMatchesKmod(t *testing.T) {
	b := newBed(t)
	b.cleanup("kaidock_user", "kaidock_export", "kaidock", "kaidock_params")
	for _, n := range []string{"kaidock", "kaidock_export", "kaidock_user", "kaidock_params"} {
		if err := loader.Load(b.module(n), loader.Options{Params: ""}); err != nil {
			t.Fatalf("Load(%s) = %v", n, err)
		}
	}
	ref := b.run(b.tool("", "lsmod"))
	got := b.run(b.tool("golsmod", "lsmod"))
	multi := b.run(b.tool("gokmod", "gokmod"), "lsmod")
	if ref.code != 0 || got.code != 0 || multi.code != 0 {
		t.Fatalf("exit codes: kmod %d (%q), golsmod %d (%q), gokmod lsmod %d (%q); want 0",
			ref.code, ref.stderr, got.code, got.stderr, multi.code, multi.stderr)
	}
	if got.stdout != ref.stdout {
		t.Errorf("golsmod differs from kmod's lsmod:\n--- kmod\n%s--- golsmod\n%s", ref.stdout, got.stdout)
	}
	if multi.stdout != ref.stdout {
		t.Errorf("gokmod lsmod differs from kmod's lsmod:\n--- kmod\n%s--- gokmod lsmod\n%s", ref.stdout, multi.stdout)
	}
	t.Logf("lsmod:\n%s", got.stdout)

	js := b.run(b.tool("golsmod", "lsmod"), "--json")
	var mods []struct {
		Name    string   `json:"name"`
		Size    int64    `json:"size"`
		Refcnt  int      `json:"refcnt"`
		Holders []string `json:"holders"`
		State   string   `json:"state"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &mods); err != nil {
		t.Fatalf("golsmod --json: %v\n%s", err, js.stdout)
	}
	found := false
	for _, m := range mods {
		if m.Name == "kaidock_export" {
			found = true
			if m.Refcnt != 1 || len(m.Holders) != 1 || m.Holders[0] != "kaidock_user" || m.State != "live" {
				t.Errorf("golsmod --json kaidock_export = %+v, want refcnt 1, holder kaidock_user, live", m)
			}
		}
	}
	if !found {
		t.Errorf("golsmod --json does not list kaidock_export:\n%s", js.stdout)
	}

	// Usage errors: same status and line as kmod.
	for _, args := range [][]string{{"extra"}, {"-v"}} {
		ref = b.run(b.tool("", "lsmod"), args...)
		got = b.run(b.tool("golsmod", "lsmod"), args...)
		want := func(argv0 string) string { return "Usage: " + argv0 + "\n" }
		if ref.code != got.code || ref.stderr != want(b.tool("", "lsmod")) || got.stderr != want(b.tool("golsmod", "lsmod")) {
			t.Errorf("lsmod %q: golsmod %d %q, kmod %d %q", args, got.code, got.stderr, ref.code, ref.stderr)
		}
	}
}

// TestInsmodUsageMatchesKmod compares exit codes and messages of cases
// that never reach the kernel.
func TestInsmodUsageMatchesKmod(t *testing.T) {
	b := newBed(t)
	for _, args := range [][]string{nil, {"/nonexistent/kaidock.ko"}, {"-"}} {
		ref := b.run(b.tool("", "insmod"), args...)
		got := b.run(b.tool("goinsmod", "insmod"), args...)
		if ref.code != got.code || firstLine(got.stderr) != kmodLine(ref.stderr, "insmod") {
			t.Errorf("insmod %q: goinsmod %d %q, kmod %d %q", args, got.code, got.stderr, ref.code, ref.stderr)
		}
	}
}
