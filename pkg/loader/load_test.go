package loader

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
)

// fakeKernel answers each call with the next error in errs and records
// what it was given.
type fakeKernel struct {
	errs    []error
	calls   []string
	images  [][]byte
	params  []string
	deleted []int
}

func (k *fakeKernel) next() error {
	if len(k.errs) == 0 {
		return nil
	}
	err := k.errs[0]
	k.errs = k.errs[1:]
	return err
}

func (k *fakeKernel) FinitModule(fd int, params string, flags int) error {
	k.calls = append(k.calls, "finit_module")
	k.params = append(k.params, params)
	if fd < 0 {
		return &kernel.Error{Op: "finit_module", Errno: syscall.EBADF}
	}
	return k.next()
}

func (k *fakeKernel) InitModule(image []byte, params string) error {
	k.calls = append(k.calls, "init_module")
	k.params = append(k.params, params)
	k.images = append(k.images, image)
	return k.next()
}

func (k *fakeKernel) DeleteModule(name string, flags int) error {
	k.calls = append(k.calls, "delete_module "+name)
	k.deleted = append(k.deleted, flags)
	return k.next()
}

func errno(op string, e syscall.Errno) error { return &kernel.Error{Op: op, Errno: e} }

func zstdBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestLoad(t *testing.T) {
	plain := []byte("\x7fELF not really a module")
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plainPath := write("m.ko", plain)
	zstPath := write("m.ko.zst", zstdBytes(t, plain))
	zstdKernel := fstest.MapFS{"sys/module/compression": {Data: []byte("zstd\n")}}
	xzKernel := fstest.MapFS{"sys/module/compression": {Data: []byte("xz\n")}}

	tests := []struct {
		name      string
		path      string
		root      fstest.MapFS
		errs      []error
		wantCalls []string
		wantSteps []Step
		wantImage []byte // what init_module got last, if called
		wantErr   error
	}{
		{"plain", plainPath, nil, nil, []string{"finit_module"},
			[]Step{{Syscall: FinitModule}}, nil, nil},
		{"plain ENOSYS falls back", plainPath, nil, []error{errno("finit_module", syscall.ENOSYS)},
			[]string{"finit_module", "init_module"},
			[]Step{{Syscall: FinitModule}, {Syscall: InitModule}}, plain, nil},
		{"plain EEXIST is final", plainPath, nil, []error{errno("finit_module", syscall.EEXIST)},
			[]string{"finit_module"}, []Step{{Syscall: FinitModule}}, nil, kernel.ErrExist},
		{"zstd in kernel", zstPath, zstdKernel, nil, []string{"finit_module"},
			[]Step{{Syscall: FinitModule, Flags: kernel.InitCompressedFile}}, nil, nil},
		{"zstd kernel refuses", zstPath, zstdKernel, []error{errno("finit_module", syscall.EINVAL)},
			[]string{"finit_module", "init_module"},
			[]Step{{Syscall: FinitModule, Flags: kernel.InitCompressedFile}, {Syscall: InitModule, Decompress: true}}, plain, nil},
		{"zstd on xz kernel", zstPath, xzKernel, nil, []string{"init_module"},
			[]Step{{Syscall: InitModule, Decompress: true}}, plain, nil},
		{"zstd userspace fails", zstPath, nil, []error{errno("init_module", syscall.ENOEXEC)},
			[]string{"init_module"}, []Step{{Syscall: InitModule, Decompress: true}}, plain, syscall.ENOEXEC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{errs: tt.errs}
			var steps []Step
			root := tt.root
			if root == nil {
				root = fstest.MapFS{}
			}
			err := Load(tt.path, Options{Params: "loop=3", Root: root, Kernel: k,
				Trace: func(a Attempt) { steps = append(steps, a.Step) }})
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load(%q) = %v, want %v", tt.path, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.wantCalls, k.calls); diff != "" {
				t.Errorf("calls mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSteps, steps); diff != "" {
				t.Errorf("traced steps mismatch (-want +got):\n%s", diff)
			}
			for _, p := range k.params {
				if p != "loop=3" {
					t.Errorf("params = %q, want loop=3", p)
				}
			}
			if tt.wantImage != nil {
				if len(k.images) == 0 || !bytes.Equal(k.images[len(k.images)-1], tt.wantImage) {
					t.Errorf("init_module image = %q, want %q", k.images, tt.wantImage)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	k := &fakeKernel{}
	if err := Load(filepath.Join(t.TempDir(), "none.ko"), Options{Kernel: k}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	if err := Load(t.TempDir(), Options{Kernel: k}); err == nil {
		t.Error("Load(directory) = nil, want error")
	}
	bad := append([]byte{}, zstdBytes(t, []byte("x"))[:6]...)
	if err := LoadImage(bad, Options{Kernel: k, Root: fstest.MapFS{}}); err == nil {
		t.Error("LoadImage(truncated zstd) = nil, want error")
	}
	if len(k.calls) != 0 {
		t.Errorf("calls = %q, want none", k.calls)
	}
}

func TestLoadImage(t *testing.T) {
	plain := []byte("\x7fELF module")
	k := &fakeKernel{}
	if err := LoadImage(zstdBytes(t, plain), Options{Kernel: k, Root: fstest.MapFS{}}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"init_module"}, k.calls); diff != "" {
		t.Errorf("calls mismatch (-want +got):\n%s", diff)
	}
	if !bytes.Equal(k.images[0], plain) {
		t.Errorf("image = %q, want %q", k.images[0], plain)
	}
	if got := kernelFormat(fstest.MapFS{"sys/module/compression": {Data: []byte("gzip\n")}}); got != compression.Gzip {
		t.Errorf("kernelFormat(gzip) = %v, want gzip", got)
	}
}

func TestJoinParams(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"loop=3"}, "loop=3"},
		{[]string{"loop=3", "flag"}, "loop=3 flag"},
		{[]string{"name=a b"}, `name="a b"`},
		{[]string{`name="a b"`}, `name="a b"`},
		{[]string{"arr=1,2,3", "s=x"}, "arr=1,2,3 s=x"},
	}
	for _, tt := range tests {
		if got := JoinParams(tt.in); got != tt.want {
			t.Errorf("JoinParams(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A plain file larger than the cap goes to finit_module as a descriptor,
// and is not read when the kernel has no finit_module: a 2 GB sparse file
// is refused before anything is allocated for it. A compressed bomb is
// decompressed once, into nothing beyond the cap.
func TestLoadBounded(t *testing.T) {
	dir := t.TempDir()
	sparse := filepath.Join(dir, "sparse.ko")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	bomb := filepath.Join(dir, "bomb.ko.zst")
	if err := os.WriteFile(bomb, zstdBytes(t, make([]byte, 64<<20)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path  string
		calls []string
	}{
		{sparse, []string{"finit_module"}},
		{bomb, nil},
	} {
		k := &fakeKernel{errs: []error{errno("finit_module", syscall.ENOSYS)}}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := Load(tt.path, Options{Kernel: k, Root: fstest.MapFS{}, MaxSize: 8 << 20})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, compression.ErrTooLarge) {
			t.Errorf("Load(%s) = %v, want ErrTooLarge", tt.path, err)
		}
		if diff := cmp.Diff(tt.calls, k.calls); diff != "" {
			t.Errorf("Load(%s) syscalls (-want +got):\n%s", tt.path, diff)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 24<<20 {
			t.Errorf("Load(%s) allocated %d bytes, want at most 24 MiB", tt.path, got)
		}
	}
}
