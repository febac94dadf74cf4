package loader

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

// DefaultMaxSize caps a module read or decompressed in userspace.
const DefaultMaxSize = compression.DefaultLimit

// Kernel is the set of syscalls the loader makes. The zero Options use
// pkg/kernel's; tests substitute their own.
type Kernel interface {
	FinitModule(fd int, params string, flags int) error
	InitModule(image []byte, params string) error
	DeleteModule(name string, flags int) error
}

// LiveKernel is the Kernel of the running system: pkg/kernel's syscalls.
type LiveKernel struct{}

func (LiveKernel) FinitModule(fd int, params string, flags int) error {
	return kernel.FinitModule(fd, params, flags)
}
func (LiveKernel) InitModule(image []byte, params string) error {
	return kernel.InitModule(image, params)
}
func (LiveKernel) DeleteModule(name string, flags int) error {
	return kernel.DeleteModule(name, flags)
}

// Attempt is one syscall the loader made, as Trace sees it.
type Attempt struct {
	Step
	Params string
	Size   int    // bytes given to init_module; 0 for finit_module
	Image  []byte // the image given to init_module, nil for finit_module
	Err    error  // what the kernel answered
}

// Options control a load.
type Options struct {
	Params  string        // the parameter string; see JoinParams
	Force   Force         // skip vermagic and/or symbol version checks
	Root    fs.FS         // the system's "/", for /sys/module/compression; default os.DirFS("/")
	Kernel  Kernel        // the syscalls; default pkg/kernel
	Trace   func(Attempt) // called after every syscall, if set
	MaxSize int64         // limit for a module read into memory; default DefaultMaxSize
}

// orLive returns k, or pkg/kernel's syscalls when k is nil.
func orLive(k Kernel) Kernel {
	if k == nil {
		return LiveKernel{}
	}
	return k
}

// orSystem returns root, or the running system's "/" when root is nil.
func orSystem(root fs.FS) fs.FS {
	if root == nil {
		return os.DirFS("/")
	}
	return root
}

// Load loads the module file at path. A plain file goes to finit_module
// as a descriptor; it is read into memory only if the kernel has no
// finit_module, and then only if it is at most MaxSize bytes. A compressed
// one is decompressed straight from the file, once.
func Load(path string, opts Options) error {
	f, size, err := kernel.OpenRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, compression.HeadSize)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read: %w", err)
	}
	s := Situation{
		Format: compression.Detect(head[:n]),
		Kernel: kernelFormat(orSystem(opts.Root)),
		Force:  opts.Force,
	}
	image := func(decompress bool) ([]byte, error) {
		limit := maxSize(opts)
		if decompress {
			img, _, err := compression.DecompressAt(f, size, limit)
			if err != nil {
				return nil, fmt.Errorf("decompress %s: %w", s.Format, err)
			}
			return img, nil
		}
		if size > limit {
			return nil, fmt.Errorf("read: %w (%d bytes, limit %d)", compression.ErrTooLarge, size, limit)
		}
		img := make([]byte, size)
		if _, err := f.ReadAt(img, 0); err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		return img, nil
	}
	return run(s, opts, image, int(f.Fd()))
}

// LoadImage loads a module from memory (plain or compressed) with
// init_module. image itself is never modified.
func LoadImage(image []byte, opts Options) error {
	s := Situation{
		Format:     compression.Detect(image),
		Kernel:     kernelFormat(orSystem(opts.Root)),
		FromMemory: true,
		Force:      opts.Force,
	}
	return run(s, opts, func(decompress bool) ([]byte, error) {
		if decompress {
			img, _, err := compression.DecompressAt(bytes.NewReader(image), int64(len(image)), maxSize(opts))
			if err != nil {
				return nil, fmt.Errorf("decompress %s: %w", s.Format, err)
			}
			return img, nil
		}
		if s.Force.Any() {
			return bytes.Clone(image), nil // to be stripped
		}
		return image, nil
	}, -1)
}

func maxSize(opts Options) int64 {
	if opts.MaxSize > 0 {
		return opts.MaxSize
	}
	return DefaultMaxSize
}

// image returns the module's bytes, decompressed if asked: a buffer of
// the caller's own that strip may modify.
type imageFunc func(decompress bool) ([]byte, error)

func run(s Situation, opts Options, image imageFunc, fd int) error {
	k := orLive(opts.Kernel)
	step := Plan(s)
	for {
		a := Attempt{Step: step, Params: opts.Params}
		switch step.Syscall {
		case FinitModule:
			a.Err = k.FinitModule(fd, opts.Params, step.Flags)
		case InitModule:
			img, err := image(step.Decompress)
			if err != nil {
				return err
			}
			if step.Strip.Any() {
				img = strip(img, step.Strip)
			}
			a.Size = len(img)
			a.Image = img
			a.Err = k.InitModule(img, opts.Params)
		}
		if opts.Trace != nil {
			opts.Trace(a)
		}
		if a.Err == nil {
			return nil
		}
		next, ok := Retry(s, step, a.Err)
		if !ok {
			return a.Err
		}
		step = next
	}
}

// kernelFormat is the format /sys/module/compression names.
func kernelFormat(root fs.FS) compression.Format {
	name := sysmod.Compression(root)
	for _, f := range []compression.Format{compression.Gzip, compression.XZ, compression.Zstd, compression.LZ4} {
		if name != "" && f.String() == name {
			return f
		}
	}
	return compression.None
}

// JoinParams joins parameter arguments into the string the kernel parses,
// one space between them, as kmod does. A value holding a space is put in
// double quotes (name="a b") unless it is quoted already, so that it
// reaches the module as one value.
func JoinParams(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		name, value, ok := strings.Cut(a, "=")
		if ok && strings.ContainsAny(value, " \t\n") && !strings.HasPrefix(value, `"`) {
			a = name + `="` + value + `"`
		}
		b.WriteString(a)
	}
	return b.String()
}
