package loader

import (
	"errors"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/kernel"
)

// Syscall is the call a Step makes.
type Syscall int

// The two ways into the kernel.
const (
	FinitModule Syscall = iota + 1 // the kernel reads the file descriptor
	InitModule                     // the kernel copies an image from memory
)

func (s Syscall) String() string {
	switch s {
	case FinitModule:
		return "finit_module"
	case InitModule:
		return "init_module"
	}
	return "none"
}

// Force says which of the kernel's checks a load skips.
type Force struct {
	Modversions bool // MODULE_INIT_IGNORE_MODVERSIONS / strip __versions
	Vermagic    bool // MODULE_INIT_IGNORE_VERMAGIC / strip vermagic
}

// Any reports whether anything is forced.
func (f Force) Any() bool { return f.Modversions || f.Vermagic }

func (f Force) flags() int {
	var fl int
	if f.Modversions {
		fl |= kernel.InitIgnoreModversions
	}
	if f.Vermagic {
		fl |= kernel.InitIgnoreVermagic
	}
	return fl
}

// Situation is what the load decision depends on.
type Situation struct {
	Format     compression.Format // the module's compression, None if plain
	Kernel     compression.Format // what /sys/module/compression names, None if nothing
	FromMemory bool               // the module is a byte slice, there is no file
	Force      Force
}

// Step is one attempt to load.
type Step struct {
	Syscall    Syscall
	Flags      int   // finit_module flags (kernel.Init*)
	Decompress bool  // decompress in userspace before init_module
	Strip      Force // what to strip from the image before init_module
}

// Plan returns the first attempt for s.
func Plan(s Situation) Step {
	switch {
	case s.FromMemory:
		return userspace(s)
	case s.Format == compression.None:
		return Step{Syscall: FinitModule, Flags: s.Force.flags()}
	case s.Format == s.Kernel:
		return Step{Syscall: FinitModule, Flags: s.Force.flags() | kernel.InitCompressedFile}
	}
	return userspace(s)
}

// Retry returns the attempt to make after prev failed with err, and false
// when there is none: a kernel without finit_module (ENOSYS), or an
// in-kernel decompression the kernel refused (EINVAL, EOPNOTSUPP), is
// retried with init_module; anything else is final.
func Retry(s Situation, prev Step, err error) (Step, bool) {
	if prev.Syscall != FinitModule {
		return Step{}, false
	}
	compressed := prev.Flags&kernel.InitCompressedFile != 0
	switch {
	case errors.Is(err, kernel.ErrNotSupported):
		return userspace(s), true
	case compressed && errors.Is(err, kernel.ErrInvalid):
		return userspace(s), true
	}
	return Step{}, false
}

func userspace(s Situation) Step {
	return Step{Syscall: InitModule, Decompress: s.Format != compression.None, Strip: s.Force}
}
