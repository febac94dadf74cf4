package modprobe

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
)

// fixture writes a small module tree and a configuration directory and
// returns the options that select them.
func fixture(t *testing.T) []string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "lib/modules/k")
	files := map[string]string{
		"modules.dep":          "kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n",
		"modules.alias":        "alias fs-a a\n",
		"modules.builtin":      "kernel/bi.ko\n",
		"kernel/a.ko":          string(modfiletest.Module("name=a\x00")),
		"kernel/b.ko":          string(modfiletest.Module("name=b\x00")),
		"../../../conf/x.conf": "options a p=1\ninstall fail-me /bin/false\nbogus\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"-d", root, "-S", "k", "-C", filepath.Join(root, "conf")}
}

func run(args ...string) (stdout, stderr string, status int) {
	var o, e bytes.Buffer
	status = Main(&tool.Env{Args: append([]string{"modprobe"}, args...), Stdout: &o, Stderr: &e})
	return o.String(), e.String(), status
}

func TestJSON(t *testing.T) {
	base := fixture(t)
	out, _, status := run(append(base, "-D", "--json", "fs-a")...)
	var plan struct {
		Targets []struct {
			Steps []struct {
				Action, Module, Path, Params string
				Sources                      []struct {
					File string
					Line int
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || status != 0 {
		t.Fatalf("-D --json fs-a = %d, %q: %v", status, out, err)
	}
	var got []string
	for _, s := range plan.Targets[0].Steps {
		got = append(got, s.Action+" "+s.Module+" "+s.Params)
	}
	if want := "load b |load a p=1 "; strings.Join(got, "|") != want {
		t.Errorf("-D --json fs-a steps = %q, want %q", strings.Join(got, "|"), want)
	}
	if src := plan.Targets[0].Steps[1].Sources; len(src) != 1 || src[0].Line != 1 {
		t.Errorf("options source = %+v, want x.conf line 1", src)
	}

	out, _, status = run(append(base, "-R", "--json", "fs-a")...)
	if status != 0 || strings.TrimSpace(out) != `{"modules":["a"],"request":"fs-a"}` {
		t.Errorf("-R --json fs-a = %d %q", status, out)
	}

	out, _, status = run(append(base, "-c", "--json")...)
	var cfg struct {
		Options []struct{ Module, Options string }
		Diags   []struct{ Word string }
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil || status != 0 || len(cfg.Options) == 0 || cfg.Options[0].Module != "a" || len(cfg.Diags) != 1 {
		t.Errorf("-c --json = %d %q: %v", status, out, err)
	}
}

func TestMessages(t *testing.T) {
	base := fixture(t)
	tests := []struct {
		args   []string
		stdout string
		stderr string // a prefix of the first line
		status int
	}{
		{[]string{"-D", "a"}, "", "", 0},
		{[]string{"-D", "nosuch"}, "", "modprobe: FATAL: Module nosuch not found in directory ", 1},
		{[]string{"-q", "-D", "nosuch"}, "", "", 1},
		{[]string{"-a", "-D", "nosuch", "b"}, "", "modprobe: WARNING: Module nosuch not found", 1},
		{[]string{"-n", "-v", "fail-me", "x=a b"}, "install /bin/false x=\"a b\"\n", "", 0},
		{[]string{"-w", "zz", "a"}, "", "modprobe: ERROR: unexpected wait value 'zz'.", 1},
		{[]string{"--load-devices", "-n", "-q"}, "", "", 0},
	}
	for _, tt := range tests {
		out, errOut, status := run(append(base, tt.args...)...)
		// Drop the configuration's own diagnostic line.
		lines := strings.Split(errOut, "\n")
		if strings.HasPrefix(lines[0], "libkmod: ERROR") {
			lines = lines[1:]
		}
		first := lines[0]
		if status != tt.status || (tt.stdout != "" && out != tt.stdout) || !strings.HasPrefix(first, tt.stderr) || (tt.stderr == "" && first != "" && !strings.HasPrefix(first, "hint:")) {
			t.Errorf("modprobe %q = %d, %q, %q; want %d, %q, %q...", tt.args, status, out, errOut, tt.status, tt.stdout, tt.stderr)
		}
	}
}

func TestPrependEnv(t *testing.T) {
	tests := []struct {
		env  string
		want []string
	}{
		{"-v -n", []string{"p", "-v", "-n", "x"}},
		// kmod's quirk: the space after a closing quote starts an empty word.
		{`-C "/a b" -q`, []string{"p", "-C", "/a b", "", "-q", "x"}},
		{`a"b c"d`, []string{"p", "ab cd", "x"}},
		{"-v  -n", []string{"p", "-v", "", "-n", "x"}},
	}
	for _, tt := range tests {
		if got := prependEnv([]string{"p", "x"}, tt.env, true); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("prependEnv(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
}
