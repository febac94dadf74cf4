package check

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/modfile"
)

const fixture = "../../../pkg/modfile/testdata/gokmod_params.ko"

// buildDir writes a build directory for the kernel the fixture module was
// built for: its release and config, and a Module.symvers that exports
// every symbol the module imports with the CRC it expects (changed by
// edit).
func buildDir(t *testing.T, edit func(name string, crc uint64) uint64) string {
	t.Helper()
	f, err := modfile.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vs, err := f.Versions()
	if err != nil {
		t.Fatal(err)
	}
	var symvers bytes.Buffer
	for _, v := range vs {
		fmt.Fprintf(&symvers, "0x%08x\t%s\tvmlinux\tEXPORT_SYMBOL\t\n", edit(v.Name, v.CRC), v.Name)
	}
	dir := t.TempDir()
	files := map[string]string{
		"Module.symvers":                 symvers.String(),
		"include/generated/utsrelease.h": "#define UTS_RELEASE \"6.1.0-56-amd64\"\n",
		"include/config/auto.conf":       "CONFIG_SMP=y\nCONFIG_PREEMPT_BUILD=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_MODVERSIONS=y\nCONFIG_X86_64=y\nCONFIG_MODULE_SIG=y\n",
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
	return dir
}

// tree writes a module directory that lists no built-in module.
func tree(t *testing.T) string {
	dir := t.TempDir()
	for _, name := range []string{"modules.dep", "modules.builtin", "modules.symbols"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(&tool.Env{Args: append([]string{"check"}, args...), Stdout: &out, Stderr: &errb})
	return code, out.String(), errb.String()
}

func TestCheck(t *testing.T) {
	same := func(_ string, crc uint64) uint64 { return crc }
	good, tr := buildDir(t, same), tree(t)
	// The fixture kernel checks signatures; the cases say how it is booted.
	boot := []string{"--sig-enforce", "no", "--lockdown", "none"}
	other := buildDir(t, func(name string, crc uint64) uint64 {
		if name == "module_layout" {
			return crc ^ 1
		}
		return crc
	})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string // lines the output holds
	}{
		{"would load", append(append([]string{}, boot...), "--build", good, "--tree", tr, fixture), 0,
			[]string{"vermagic    passed  \"6.1.0-56-amd64 SMP preempt mod_unload modversions \"", fixture + ": would load"}},
		{"bad parameter", append(append([]string{}, boot...), "--build", good, "--tree", tr, "--params", "loop=abc", fixture), 1,
			[]string{"parameters  failed  EINVAL: loop is int: \"abc\" does not parse", "kernel: gokmod_params: `abc' invalid for parameter `loop'",
				fixture + ": would fail at parameters: EINVAL (Invalid argument)"}},
		{"another kernel, boot unknown", []string{"--build", other, "--tree", tr, fixture}, 1,
			[]string{"signature   unknown", fixture + ": would fail at modversions\n"}},
		{"another kernel", append(append([]string{}, boot...), "--build", other, "--tree", tr, fixture), 1,
			[]string{"kernel: gokmod_params: disagrees about version of symbol module_layout", fixture + ": would fail at modversions: ENOEXEC (Exec format error)"}},
		{"cannot tell", append(append([]string{}, boot...), "--build", good, fixture), 2,
			[]string{"sysfs       unknown", fixture + ": cannot tell: sysfs is unknown"}},
		{"booted as told", []string{"--build", good, "--tree", tr, "--sig-enforce", "yes", fixture}, 1,
			[]string{"kernel: Loading of unsigned module is rejected", fixture + ": would fail at signature: EKEYREJECTED (Key was rejected by service)"}},
		{"two files", append(append([]string{}, boot...), "--build", good, "--tree", tr, fixture, fixture), 0, []string{fixture + ": would load\n\ndecompress"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errb := run(tt.args...)
			if code != tt.wantCode || errb != "" {
				t.Errorf("check %q = %d, stderr %q; want %d\n%s", tt.args, code, errb, tt.wantCode, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("check %q output lacks %q:\n%s", tt.args, w, out)
				}
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	code, out, _ := run("--json", "--build", buildDir(t, func(_ string, crc uint64) uint64 { return crc }), "--tree", tree(t), "--sig-enforce", "no", "--lockdown", "none", "--params", "loop=x", fixture)
	var r struct {
		Verdict   string `json:"verdict"`
		Step      string `json:"step"`
		ErrnoName string `json:"errno_name"`
		Steps     []struct {
			Step    string   `json:"step"`
			Verdict string   `json:"verdict"`
			Kernel  []string `json:"kernel"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	if code != 1 || r.Verdict != "failed" || r.Step != "parameters" || r.ErrnoName != "EINVAL" || len(r.Steps) != 9 {
		t.Errorf("check --json = %d, %+v", code, r)
	}
}

func TestCheckErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nofile.ko")
	tests := []struct {
		args       []string
		wantStderr string
	}{
		{nil, "check: ERROR: missing filename.\n"},
		{[]string{"--build", tree(t), missing}, "check: ERROR: " + ""},
		{[]string{"--build", filepath.Join(missing, "x"), fixture}, "check: ERROR: build directory: "},
		{[]string{"--cert", missing, fixture}, "check: ERROR: read certificate: "},
		{[]string{"--build", tree(t), "--sig-enforce", "maybe", fixture}, "check: ERROR: --sig-enforce \"maybe\": want yes or no"},
	}
	for _, tt := range tests {
		code, out, errb := run(tt.args...)
		if code != 1 || !strings.HasPrefix(errb, tt.wantStderr) || strings.Count(errb, "\n") != 1 || out != "" {
			t.Errorf("check %q = %d, stdout %q, stderr %q; want 1 and one line starting %q", tt.args, code, out, errb, tt.wantStderr)
		}
	}
}
