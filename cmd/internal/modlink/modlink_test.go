package modlink

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/link"
	"github.com/gokmod/gokmod/pkg/modfile"
)

const (
	params = "../../../pkg/modfile/testdata/gokmod_params.ko"
	user   = "../../../pkg/modfile/testdata/gokmod_user.ko"
	smap   = "testdata/System.map"
)

func runTool(t *testing.T, root fstest.MapFS, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &tool.Env{Args: append([]string{"gomodlink"}, args...), Stdout: &out, Stderr: &errb}
	var fsys fs.FS = root
	if root == nil {
		fsys = fstest.MapFS{}
	}
	code := runIn(env, fsys)
	return out.String(), errb.String(), code
}

func TestOffline(t *testing.T) {
	out, stderr, code := runTool(t, nil, "--system-map", smap, params, "gokmod_params_value")
	if code != 0 || stderr != "" {
		t.Fatalf("gomodlink offline = %d, %q", code, stderr)
	}
	for _, want := range []string{
		"module gokmod_params, offline: sections laid out from 0xffffffffc0000000, symbols from testdata/System.map; CPU: none\n",
		"\ngokmod_params_value (.text+0x0 at 0xffffffffc0000000, ",
		"- 0x0                          e8 00 00 00 00           callq .+0x0                              R_X86_64_PLT32 __fentry__-0x4\n",
		"+ 0xffffffffc0000000 <+0>      e8 eb 3a 09 c1           callq 0xffffffff81093af0 <__fentry__>\n",
		"! 0xffffffffc0000000 <+0>      0f 1f 44 00 00           nopl (%rax,%rax)                         ftrace call site",
		"R_X86_64_PLT32 __x86_return_thunk-0x4\n",
		"c3 cc cc cc cc           retq; int3; int3; int3; int3             return thunk",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("gomodlink offline output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "gokmod_params_gpl_value") {
		t.Errorf("gomodlink FUNCTION shows other functions:\n%s", out)
	}
}

// TestJSON checks every relocation site of the --json output against the
// module file: one entry per entry of each RELA section of an allocated
// section, with bytes that encode the value.
func TestJSON(t *testing.T) {
	out, stderr, code := runTool(t, nil, "--json", "--system-map", smap, "--with", params, "--base", "0xffffffffc1000000", user)
	if code != 0 {
		t.Fatalf("gomodlink --json = %d, %q", code, stderr)
	}
	var got jsonOut
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("--json output does not parse: %v\n%s", err, out)
	}
	f, err := modfile.Open(user)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	secs := f.Sections()
	want := 0
	for _, s := range secs {
		if s.Type == 4 && int(s.Info) < len(secs) && secs[s.Info].Flags&2 != 0 && secs[s.Info].Name != ".modinfo" && secs[s.Info].Name != "__versions" {
			want += int(s.Size / 24)
		}
	}
	if len(got.Relocations) != want || want == 0 {
		t.Errorf("--json lists %d relocations, the file has %d in allocated sections", len(got.Relocations), want)
	}
	for _, r := range got.Relocations {
		b, err := hex.DecodeString(r.Bytes)
		v, err2 := strconv.ParseUint(strings.TrimPrefix(r.Value, "0x"), 16, 64)
		if err != nil || err2 != nil || len(b) != r.Size {
			t.Errorf("relocation %+v: bytes or value do not parse", r)
			continue
		}
		var enc [8]byte
		for i := range enc {
			enc[i] = byte(v >> (8 * i))
		}
		if !bytes.Equal(b, enc[:r.Size]) {
			t.Errorf("relocation %s+%#x: bytes %s do not encode value %s", r.Section, r.Offset, r.Bytes, r.Value)
		}
	}
	mods := map[string]string{}
	for _, i := range got.Imports {
		mods[i.Name] = i.Module
	}
	if mods["gokmod_params_value"] != "gokmod_params" || mods["__fentry__"] != "" {
		t.Errorf("imports = %+v, want gokmod_params_value from gokmod_params", got.Imports)
	}
	kinds := map[string]bool{}
	for _, p := range got.Patches {
		kinds[p.Kind] = true
	}
	if !kinds["ftrace"] || !kinds["return-thunk"] || !kinds["kernel-data"] {
		t.Errorf("patches = %+v, want ftrace, return-thunk and kernel-data ones", got.Patches)
	}
	if got.Sections[0].Address != "0xffffffffc1000000" {
		t.Errorf("first section at %s, want the --base", got.Sections[0].Address)
	}
}

// liveRoot is a system where gokmod_params is loaded where Layout puts it.
func liveRoot(t *testing.T) fstest.MapFS {
	t.Helper()
	f, err := modfile.Open(params)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kall, err := os.ReadFile(smap)
	if err != nil {
		t.Fatal(err)
	}
	root := fstest.MapFS{
		"proc/kallsyms": {Data: kall},
		"sys/devices/system/cpu/vulnerabilities/retbleed": {Data: []byte("Mitigation: untrained return thunk\n")},
	}
	for name, addr := range link.Layout(f, 0xffffffffc0a00000) {
		root["sys/module/gokmod_params/sections/"+name] = &fstest.MapFile{Data: []byte(fmt.Sprintf("0x%016x\n", addr))}
	}
	return root
}

func TestLive(t *testing.T) {
	out, stderr, code := runTool(t, liveRoot(t), params)
	if code != 0 || stderr != "" {
		t.Fatalf("gomodlink live = %d, %q", code, stderr)
	}
	for _, want := range []string{
		"module gokmod_params, loaded: sections from /sys/module/gokmod_params/sections, symbols from /proc/kallsyms; CPU: rethunk\n",
		"\ngokmod_params_value (.text+0x0 at 0xffffffffc0a00000, ",
		"(not predicted)                          return thunk: a jmp to the return thunk the kernel chose",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("gomodlink live output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runTool(t, liveRoot(t), "--cpu", "none", params, "gokmod_params_value")
	if code != 0 || !strings.Contains(out, "retq; int3") {
		t.Errorf("gomodlink --cpu none = %d, want the return thunk predicted:\n%s", code, out)
	}
}

func TestErrors(t *testing.T) {
	hidden := liveRoot(t)
	for name := range hidden {
		if strings.HasPrefix(name, "sys/module/") {
			hidden[name] = &fstest.MapFile{Data: []byte("0x0000000000000000\n")}
		}
	}
	placeholder := t.TempDir() + "/System.map"
	if err := os.WriteFile(placeholder, []byte("ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		root   fstest.MapFS
		args   []string
		stderr []string
	}{
		{"no module", nil, nil, []string{"gomodlink: ERROR: missing module file.\n"}},
		{"missing file", nil, []string{"/nonexistent.ko"}, []string{"gomodlink: ERROR: open /nonexistent.ko: no such file or directory\n"}},
		{"not loaded", fstest.MapFS{}, []string{params}, []string{
			"gomodlink: ERROR: " + params + ": gokmod_params: module is not loaded\n",
			"hint: load it first (goinsmod " + params + "), or link it offline: --system-map FILE [--base ADDR]\n"}},
		{"addresses hidden", hidden, []string{params}, []string{"addresses hidden (read them as root)\n", "hint: the kernel shows addresses to root only: run as root\n"}},
		{"offline without symbols", nil, []string{"--base", "0xffffffffc0000000", params}, []string{"offline linking needs kernel symbols: --system-map FILE\n"}},
		{"placeholder System.map", nil, []string{"--system-map", placeholder, params}, []string{"placeholder System.map without symbols\n"}},
		{"bad base", nil, []string{"--system-map", smap, "--base", "zz", params}, []string{`bad address "zz"`}},
		{"bad section", nil, []string{"--system-map", smap, "--section", ".text", params}, []string{`--section ".text": want NAME=ADDR`}},
		{"bad cpu", nil, []string{"--system-map", smap, "--cpu", "fast", params}, []string{`gomodlink: ERROR: --cpu: unknown CPU feature "fast"`}},
		{"unknown function", nil, []string{"--system-map", smap, params, "nosuch"}, []string{"no function nosuch in module gokmod_params\n"}},
		{"unresolved import", nil, []string{"--system-map", smap, user}, []string{
			"gomodlink: ERROR: " + user + ": the kernel would refuse it: gokmod_user: Unknown symbol gokmod_params_value (err -2)\n",
			"gomodlink: ERROR: " + user + ": gokmod_user: Unknown symbol gokmod_params_ns_value (err -2)\n"}},
		{"unknown flag", nil, []string{"--bogus", params}, []string{"gomodlink: unrecognized option '--bogus'\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, code := runTool(t, tt.root, tt.args...)
			if code != 1 || out != "" {
				t.Errorf("gomodlink %q = %d, stdout %q; want 1 and none", tt.args, code, out)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("gomodlink %q stderr = %q, want it to contain %q", tt.args, stderr, w)
				}
			}
		})
	}
}
