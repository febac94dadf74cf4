package loader

import (
	"fmt"
	"testing"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/google/go-cmp/cmp"
	"syscall"
)

func TestPlan(t *testing.T) {
	force := Force{Modversions: true, Vermagic: true}
	const ign = kernel.InitIgnoreModversions | kernel.InitIgnoreVermagic
	tests := []struct {
		name string
		s    Situation
		want Step
	}{
		{"plain", Situation{}, Step{Syscall: FinitModule}},
		{"plain on xz kernel", Situation{Kernel: compression.XZ}, Step{Syscall: FinitModule}},
		{"plain forced", Situation{Force: force}, Step{Syscall: FinitModule, Flags: ign}},
		{"only vermagic", Situation{Force: Force{Vermagic: true}}, Step{Syscall: FinitModule, Flags: kernel.InitIgnoreVermagic}},
		{"xz on xz kernel", Situation{Format: compression.XZ, Kernel: compression.XZ},
			Step{Syscall: FinitModule, Flags: kernel.InitCompressedFile}},
		{"zstd on zstd kernel forced", Situation{Format: compression.Zstd, Kernel: compression.Zstd, Force: force},
			Step{Syscall: FinitModule, Flags: kernel.InitCompressedFile | ign}},
		{"gzip on xz kernel", Situation{Format: compression.Gzip, Kernel: compression.XZ},
			Step{Syscall: InitModule, Decompress: true}},
		{"xz without in-kernel decompression", Situation{Format: compression.XZ},
			Step{Syscall: InitModule, Decompress: true}},
		{"lz4 forced", Situation{Format: compression.LZ4, Force: force},
			Step{Syscall: InitModule, Decompress: true, Strip: force}},
		{"memory plain", Situation{FromMemory: true}, Step{Syscall: InitModule}},
		{"memory xz on xz kernel", Situation{FromMemory: true, Format: compression.XZ, Kernel: compression.XZ},
			Step{Syscall: InitModule, Decompress: true}},
		{"memory forced", Situation{FromMemory: true, Force: force}, Step{Syscall: InitModule, Strip: force}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Plan(tt.s)); diff != "" {
				t.Errorf("Plan(%+v) mismatch (-want +got):\n%s", tt.s, diff)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	force := Force{Vermagic: true}
	errno := func(e syscall.Errno) error { return &kernel.Error{Op: "finit_module", Errno: e} }
	xz := Situation{Format: compression.XZ, Kernel: compression.XZ}
	tests := []struct {
		name   string
		s      Situation
		prev   Step
		err    error
		want   Step
		wantOK bool
	}{
		{"plain ENOSYS", Situation{}, Plan(Situation{}), errno(syscall.ENOSYS), Step{Syscall: InitModule}, true},
		{"plain ENOSYS forced", Situation{Force: force}, Plan(Situation{Force: force}), errno(syscall.ENOSYS),
			Step{Syscall: InitModule, Strip: force}, true},
		{"plain EINVAL is final", Situation{}, Plan(Situation{}), errno(syscall.EINVAL), Step{}, false},
		{"plain ENOEXEC is final", Situation{}, Plan(Situation{}), errno(syscall.ENOEXEC), Step{}, false},
		{"xz CRC64 EINVAL", xz, Plan(xz), errno(syscall.EINVAL), Step{Syscall: InitModule, Decompress: true}, true},
		{"xz EOPNOTSUPP", xz, Plan(xz), errno(syscall.EOPNOTSUPP), Step{Syscall: InitModule, Decompress: true}, true},
		{"xz ENOSYS", xz, Plan(xz), errno(syscall.ENOSYS), Step{Syscall: InitModule, Decompress: true}, true},
		{"xz EEXIST is final", xz, Plan(xz), errno(syscall.EEXIST), Step{}, false},
		{"xz wrapped EINVAL", xz, Plan(xz), fmt.Errorf("load: %w", errno(syscall.EINVAL)), Step{Syscall: InitModule, Decompress: true}, true},
		{"init_module never retried", Situation{Format: compression.Gzip}, Step{Syscall: InitModule, Decompress: true},
			errno(syscall.ENOSYS), Step{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Retry(tt.s, tt.prev, tt.err)
			if ok != tt.wantOK {
				t.Fatalf("Retry(%+v, %+v, %v) ok = %v, want %v", tt.s, tt.prev, tt.err, ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Retry(%+v, %+v, %v) mismatch (-want +got):\n%s", tt.s, tt.prev, tt.err, diff)
			}
		})
	}
}
