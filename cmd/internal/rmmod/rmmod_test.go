package rmmod

import (
	"bytes"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/cmd/internal/cliapp"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader/loadertest"
)

type fakeKernel struct {
	deleted []string
	err     error
}

func (k *fakeKernel) FinitModule(int, string, int) error { return syscall.ENOSYS }
func (k *fakeKernel) InitModule([]byte, string) error    { return syscall.ENOSYS }
func (k *fakeKernel) DeleteModule(name string, flags int) error {
	k.deleted = append(k.deleted, name)
	if k.err != nil {
		return k.err
	}
	return nil
}

func TestRmmod(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		kerr        error
		wantCode    int
		wantStderr  string
		wantDeleted []string
	}{
		{"unused", []string{"kaidock_user"}, nil, 0, "", []string{"kaidock_user"}},
		{"dash name", []string{"kaidock-user"}, nil, 0, "", []string{"kaidock_user"}},
		{"held", []string{"kaidock_export"}, nil, 1,
			"rmmod: ERROR: Module kaidock_export is in use by: kaidock_user\nhint: kaidock_user uses kaidock_export: remove the users first, in order: gormmod kaidock_user kaidock_export\n", nil},
		{"right order", []string{"kaidock_user", "kaidock_export"}, nil, 1,
			"rmmod: ERROR: Module kaidock_export is in use by: kaidock_user\nhint: kaidock_user uses kaidock_export: remove the users first, in order: gormmod kaidock_user kaidock_export\n",
			[]string{"kaidock_user"}},
		{"forced", []string{"-f", "kaidock_export"}, nil, 0, "", []string{"kaidock_export"}},
		{"refcnt", []string{"busy"}, nil, 1, "rmmod: ERROR: Module busy is in use\n", nil},
		{"not loaded", []string{"nosuch"}, nil, 1, "rmmod: ERROR: Module nosuch is not currently loaded\n", nil},
		{"no unloading", []string{"noref"}, nil, 1, "rmmod: ERROR: Module unloading is not supported\n", nil},
		{"builtin with params", []string{"ext4"}, nil, 1, "rmmod: ERROR: Module ext4 is builtin.\n", nil},
		{"builtin from modules.builtin", []string{"vfat"}, nil, 1, "rmmod: ERROR: Module vfat is builtin.\n", nil},
		{"kernel refuses", []string{"kaidock_user"}, &kernel.Error{Op: "delete_module", Errno: syscall.EWOULDBLOCK}, 1,
			"rmmod: ERROR: could not remove module kaidock_user: Resource temporarily unavailable\n", []string{"kaidock_user"}},
		{"no argument", nil, nil, 1, "rmmod: ERROR: missing module name.\n", nil},
		{"bad flag", []string{"-x", "a"}, nil, 1, "rmmod: invalid option -- 'x'\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{err: tt.kerr}
			var out, errb bytes.Buffer
			env := &tool.Env{Args: append([]string{"rmmod"}, tt.args...), Stdout: &out, Stderr: &errb}
			sys := system{root: loadertest.SysModule(), kernel: k, builtin: func(n string) bool { return n == "vfat" }}
			code := cliapp.Run(env, newApp(env, sys), 1)
			if code != tt.wantCode {
				t.Errorf("rmmod %q = %d, want %d", tt.args, code, tt.wantCode)
			}
			// kmod's line comes first; a hint line may follow it.
			if got := errb.String(); tt.wantStderr == "" && got != "" || !strings.HasPrefix(got, tt.wantStderr) {
				t.Errorf("rmmod %q stderr = %q, want it to start with %q", tt.args, got, tt.wantStderr)
			}
			if diff := cmp.Diff(tt.wantDeleted, k.deleted); diff != "" {
				t.Errorf("rmmod %q delete_module calls mismatch (-want +got):\n%s", tt.args, diff)
			}
		})
	}
}
