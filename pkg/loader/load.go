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

// DefaultMaxSize caps a module decompressed in userspace.
const DefaultMaxSize = 1 << 30

// Kernel is the set of syscalls the loader makes. The zero Options use
// pkg/kernel's; tests substitute their own.
type Kernel interface {
	FinitModule(fd int, params string, flags int) error
	InitModule(image []byte, params string) error
	DeleteModule(name string, flags int) error
}

type liveKernel struct{}

func (liveKernel) FinitModule(fd int, params string, flags int) error {
	return kernel.FinitModule(fd, params, flags)
}
func (liveKernel) InitModule(image []byte, params string) error {
	return kernel.InitModule(image, params)
}
func (liveKernel) DeleteModule(name string, flags int) error {
	return kernel.DeleteModule(name, flags)
}

// Attempt is one syscall the loader made, as Trace sees it.
type Attempt struct {
	Step
	Params string
	Size   int   // bytes given to init_module; 0 for finit_module
	Err    error // what the kernel answered
}

// Options control a load.
type Options struct {
	Params  string        // the parameter string; see JoinParams
	Force   Force         // skip vermagic and/or symbol version checks
	Root    fs.FS         // the system's "/", for /sys/module/compression; default os.DirFS("/")
	Kernel  Kernel        // the syscalls; default pkg/kernel
	Trace   func(Attempt) // called after every syscall, if set
	MaxSize int64         // limit for userspace decompression; default DefaultMaxSize
}

// orLive returns k, or pkg/kernel's syscalls when k is nil.
func orLive(k Kernel) Kernel {
	if k == nil {
		return liveKernel{}
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

// Load loads the module file at path.
func Load(path string, opts Options) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return &fs.PathError{Op: "open", Path: path, Err: errIsDir}
	}
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
	image := func() ([]byte, error) {
		return io.ReadAll(io.NewSectionReader(f, 0, fi.Size()))
	}
	return run(s, opts, image, int(f.Fd()))
}

var errIsDir = errors.New("is a directory")

// LoadImage loads a module from memory (plain or compressed) with
// init_module.
func LoadImage(image []byte, opts Options) error {
	s := Situation{
		Format:     compression.Detect(image),
		Kernel:     kernelFormat(orSystem(opts.Root)),
		FromMemory: true,
		Force:      opts.Force,
	}
	return run(s, opts, func() ([]byte, error) { return image, nil }, -1)
}

func run(s Situation, opts Options, image func() ([]byte, error), fd int) error {
	k := orLive(opts.Kernel)
	step := Plan(s)
	for {
		a := Attempt{Step: step, Params: opts.Params}
		switch step.Syscall {
		case FinitModule:
			a.Err = k.FinitModule(fd, opts.Params, step.Flags)
		case InitModule:
			img, err := prepare(s, step, opts, image)
			if err != nil {
				return err
			}
			a.Size = len(img)
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

func prepare(s Situation, step Step, opts Options, image func() ([]byte, error)) ([]byte, error) {
	img, err := image()
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if step.Decompress {
		limit := opts.MaxSize
		if limit <= 0 {
			limit = DefaultMaxSize
		}
		img, _, err = compression.Decompress(bytes.NewReader(img), limit)
		if err != nil {
			return nil, fmt.Errorf("decompress %s: %w", s.Format, err)
		}
	}
	if step.Strip.Any() {
		img = strip(img, step.Strip)
	}
	return img, nil
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
