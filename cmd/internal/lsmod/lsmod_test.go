package lsmod

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

func fixture() fstest.MapFS {
	return fstest.MapFS{
		"proc/modules": {Data: []byte("kaidock_user 16384 0 - Live 0xffffffffc0a10000 (OE)\n" +
			"kaidock_export 16384 1 kaidock_user, Live 0xffffffffc0a08000 (OE)\n" +
			"vanished 12288 0 - Live 0xffffffffc0a04000\n" +
			"a_module_with_a_long_name 1234567890 0 - Live 0xffffffffc0a00000\n")},
		"sys/module/kaidock_user/initstate":              {Data: []byte("live\n")},
		"sys/module/kaidock_user/coresize":               {Data: []byte("12288\n")},
		"sys/module/kaidock_user/refcnt":                 {Data: []byte("0\n")},
		"sys/module/kaidock_export/initstate":            {Data: []byte("live\n")},
		"sys/module/kaidock_export/coresize":             {Data: []byte("8192\n")},
		"sys/module/kaidock_export/refcnt":               {Data: []byte("2\n")},
		"sys/module/kaidock_export/holders/kaidock_user": {},
		"sys/module/kaidock_export/holders/other":        {},
		"sys/module/a_module_with_a_long_name/initstate": {Data: []byte("live\n")},
		"sys/module/a_module_with_a_long_name/coresize":  {Data: []byte("1234567890\n")},
		"sys/module/a_module_with_a_long_name/refcnt":    {Data: []byte("0\n")},
	}
}

func runLsmod(t *testing.T, root fstest.MapFS, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &tool.Env{Args: append([]string{"lsmod"}, args...), Stdout: &out, Stderr: &errb}
	code := run(env, root)
	return out.String(), errb.String(), code
}

func TestLsmod(t *testing.T) {
	out, stderr, code := runLsmod(t, fixture())
	want := "Module                  Size  Used by\n" +
		"kaidock_user           12288  0\n" +
		"kaidock_export          8192  2 kaidock_user,other\n" +
		"a_module_with_a_long_name 1234567890  0\n"
	if code != 0 || stderr != "" {
		t.Fatalf("lsmod = %d, stderr %q, want 0 and none", code, stderr)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("lsmod output mismatch (-want +got):\n%s", diff)
	}
}

func TestLsmodJSON(t *testing.T) {
	out, _, code := runLsmod(t, fixture(), "--json")
	if code != 0 {
		t.Fatalf("lsmod --json = %d, want 0", code)
	}
	var got []sysmod.Module
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("lsmod --json output %q: %v", out, err)
	}
	if len(got) != 3 || got[1].Name != "kaidock_export" || got[1].Refcnt != 2 || len(got[1].Holders) != 2 || got[0].Holders == nil || got[1].State != sysmod.Live {
		t.Errorf("lsmod --json = %+v", got)
	}
	if !strings.Contains(out, `"state": "live"`) || !strings.Contains(out, `"taints": "OE"`) {
		t.Errorf("lsmod --json = %s, want state and taints", out)
	}
}

func TestLsmodErrors(t *testing.T) {
	tests := []struct {
		name       string
		root       fstest.MapFS
		args       []string
		wantStderr string
	}{
		{"no /proc/modules", fstest.MapFS{}, nil, "Error: could not get list of modules: No such file or directory\n"},
		{"arguments", fixture(), []string{"x"}, "Usage: lsmod\n"},
		{"kmod's -v is not lsmod 30's", fixture(), []string{"-v"}, "Usage: lsmod\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runLsmod(t, tt.root, tt.args...)
			if code != 1 || out != "" || stderr != tt.wantStderr {
				t.Errorf("lsmod %q = %d, stdout %q, stderr %q; want 1, none, %q", tt.args, code, out, stderr, tt.wantStderr)
			}
		})
	}
}
