package insmod

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
)

// These cases never reach the kernel.
func TestUsage(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nofile.ko")
	tests := []struct {
		args       []string
		wantStderr string
	}{
		{nil, "insmod: ERROR: missing filename.\n"},
		{[]string{"-f"}, "insmod: ERROR: missing filename.\n"},
		{[]string{"-"}, "insmod: ERROR: this tool does not support loading from stdin!\n"},
		{[]string{missing}, "insmod: ERROR: could not load module " + missing + ": No such file or directory\n"},
		{[]string{"--bogus", "x.ko"}, "insmod: unrecognized option '--bogus'\n"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := Main(&tool.Env{Args: append([]string{"insmod"}, tt.args...), Stdout: &out, Stderr: &errb})
		if code != 1 || errb.String() != tt.wantStderr || out.Len() != 0 {
			t.Errorf("insmod %q = %d, stdout %q, stderr %q; want 1, none, %q", tt.args, code, out.String(), errb.String(), tt.wantStderr)
		}
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&kernel.Error{Op: "finit_module", Errno: syscall.ENOEXEC}, "Invalid module format"},
		{&kernel.Error{Op: "init_module", Errno: syscall.ENOENT}, "Unknown symbol in module"},
		{&kernel.Error{Op: "finit_module", Errno: syscall.ESRCH}, "Module has wrong symbol version"},
		{&kernel.Error{Op: "finit_module", Errno: syscall.EINVAL}, "Invalid parameters"},
		{&kernel.Error{Op: "finit_module", Errno: syscall.EEXIST}, "File exists"},
		{&kernel.Error{Op: "finit_module", Errno: syscall.EKEYREJECTED}, "Key was rejected by service"},
		{&kernel.Error{Op: "finit_module", Errno: syscall.EPERM}, "Operation not permitted"},
		{errors.New("decompress xz: corrupt compressed data"), "decompress xz: corrupt compressed data"},
	}
	for _, tt := range tests {
		if got := reason(tt.err); got != tt.want {
			t.Errorf("reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	a := loader.Attempt{Step: loader.Step{Syscall: loader.FinitModule, Flags: kernel.InitCompressedFile}, Params: "loop=3",
		Err: &kernel.Error{Op: "finit_module", Errno: syscall.EINVAL}}
	if got, want := describe("k.ko.xz", a), `finit_module(k.ko.xz, "loop=3", 0x4): Invalid argument`; got != want {
		t.Errorf("describe() = %q, want %q", got, want)
	}
	a = loader.Attempt{Step: loader.Step{Syscall: loader.InitModule, Decompress: true}, Size: 100}
	if got, want := describe("k.ko.xz", a), `init_module(decompressed image of 100 bytes, ""): ok`; got != want {
		t.Errorf("describe() = %q, want %q", got, want)
	}
}

// --check never loads: it hands the file and parameters to package check.
func TestCheckFlag(t *testing.T) {
	const fixture = "../../../pkg/modfile/testdata/gokmod_params.ko"
	var out, errb bytes.Buffer
	code := Main(&tool.Env{Args: []string{"insmod", "--check", "--json", "--build", t.TempDir(), fixture, "loop=1"}, Stdout: &out, Stderr: &errb})
	if code != 1 || !strings.Contains(errb.String(), "no kernel release") {
		t.Errorf("insmod --check with an empty build directory = %d, %q; want 1 and the reason", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	code = Main(&tool.Env{Args: []string{"insmod", "--check", "--json", "--root", t.TempDir(), fixture, "loop=x"}, Stdout: &out, Stderr: &errb})
	if code != 1 || !strings.Contains(out.String(), `"errno_name": "EINVAL"`) {
		t.Errorf("insmod --check loop=x = %d, stdout %q, stderr %q; want 1 and EINVAL", code, out.String(), errb.String())
	}
}
