package loader

import (
	"errors"
	"syscall"
	"testing"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader/loadertest"
	"github.com/google/go-cmp/cmp"
)

func TestUnload(t *testing.T) {
	builtin := func(n string) bool { return n == "vfat" }
	tests := []struct {
		name      string
		mod       string
		force     bool
		kerr      error
		wantErr   error
		wantFlags []int
		holders   []string
	}{
		{"unused", "kaidock_user", false, nil, nil, []int{kernel.DeleteNonblock}, nil},
		{"held", "kaidock_export", false, nil, ErrInUse, nil, []string{"kaidock_user"}},
		{"referenced", "busy", false, nil, ErrInUse, nil, nil},
		{"not loaded", "nosuch", false, nil, ErrNotLoaded, nil, nil},
		{"no unloading", "noref", false, nil, ErrNoUnload, nil, nil},
		{"builtin with params", "ext4", false, nil, ErrBuiltin, nil, nil},
		{"builtin from modules.builtin", "vfat", false, nil, ErrBuiltin, nil, nil},
		{"forced skips checks", "kaidock_export", true, nil, nil, []int{kernel.DeleteNonblock | kernel.DeleteTrunc}, nil},
		{"kernel says busy", "kaidock_user", false, errno("delete_module", syscall.EWOULDBLOCK), kernel.ErrWouldBlock,
			[]int{kernel.DeleteNonblock}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{}
			if tt.kerr != nil {
				k.errs = []error{tt.kerr}
			}
			err := Unload(tt.mod, UnloadOptions{Force: tt.force, Root: loadertest.SysModule(), Kernel: k, Builtin: builtin})
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Unload(%q) = %v, want %v", tt.mod, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantFlags, k.deleted); diff != "" {
				t.Errorf("delete_module flags mismatch (-want +got):\n%s", diff)
			}
			var iu *InUseError
			if errors.As(err, &iu) {
				if diff := cmp.Diff(tt.holders, iu.Holders); diff != "" {
					t.Errorf("holders mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}
