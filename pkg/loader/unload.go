package loader

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

// Errors Unload reports before it calls delete_module.
var (
	ErrBuiltin   = sysmod.ErrBuiltin   // built into the kernel
	ErrNotLoaded = sysmod.ErrNotLoaded // not loaded
	ErrInUse     = errors.New("module is in use")
	ErrNoUnload  = sysmod.ErrNoUnload // the kernel cannot unload modules
)

// InUseError is a module that others hold (Holders) or that has
// references (Refcnt).
type InUseError struct {
	Name    string
	Holders []string
	Refcnt  int
}

func (e *InUseError) Error() string {
	if len(e.Holders) > 0 {
		return fmt.Sprintf("module %s is in use by: %s", e.Name, strings.Join(e.Holders, " "))
	}
	return fmt.Sprintf("module %s is in use", e.Name)
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// UnloadOptions control an unload.
type UnloadOptions struct {
	Force   bool              // skip the checks and pass O_TRUNC (CONFIG_MODULE_FORCE_UNLOAD)
	Root    fs.FS             // the system's "/"; default os.DirFS("/")
	Kernel  Kernel            // the syscalls; default pkg/kernel
	Builtin func(string) bool // reports modules.builtin entries; nil for none
	Trace   func(name string, flags int, err error)
}

// Unload removes the loaded module called name. Unless forced it refuses,
// as kmod does, a built-in module (ErrBuiltin), one that is not loaded
// (ErrNotLoaded), one in use (*InUseError), and any on a kernel that
// cannot unload (ErrNoUnload); then it calls delete_module with
// O_NONBLOCK, plus O_TRUNC when forced.
func Unload(name string, opts UnloadOptions) error {
	root := orSystem(opts.Root)
	if !opts.Force {
		if err := Check(root, name, opts.Builtin); err != nil {
			return err
		}
	}
	flags := kernel.DeleteNonblock
	if opts.Force {
		flags |= kernel.DeleteTrunc
	}
	k := orLive(opts.Kernel)
	err := k.DeleteModule(name, flags)
	if opts.Trace != nil {
		opts.Trace(name, flags, err)
	}
	return err
}

// Check applies kmod's checks for removing name without force.
func Check(root fs.FS, name string, builtin func(string) bool) error {
	if builtin != nil && builtin(name) {
		return fmt.Errorf("%s: %w", name, ErrBuiltin)
	}
	st, err := sysmod.GetState(root, name)
	if err != nil {
		return err
	}
	if st == sysmod.Builtin {
		return fmt.Errorf("%s: %w", name, ErrBuiltin)
	}
	holders, err := sysmod.Holders(root, name)
	if err != nil {
		return err
	}
	if len(holders) > 0 {
		return &InUseError{Name: name, Holders: holders}
	}
	refcnt, err := sysmod.Refcnt(root, name)
	if err != nil {
		return err
	}
	if refcnt != 0 {
		return &InUseError{Name: name, Refcnt: refcnt}
	}
	return nil
}
