package rmmod

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gokmod/gokmod/cmd/internal/cliapp"
	"github.com/gokmod/gokmod/cmd/internal/logging"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/diagnose"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
	"github.com/gokmod/gokmod/pkg/moddb"
	"github.com/gokmod/gokmod/pkg/modfile"
)

// Main runs gormmod.
func Main(env *tool.Env) int {
	return cliapp.Run(env, newApp(env, system{root: os.DirFS("/")}), 1)
}

func newApp(env *tool.Env, sys system) *cli.App {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "force the removal (CONFIG_MODULE_FORCE_UNLOAD); may crash your machine. DANGEROUS"},
		&cli.BoolFlag{Name: "syslog", Aliases: []string{"s"}, Usage: "print messages to syslog, not stderr"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print each syscall made"},
	}
	return cliapp.New(env, "remove modules from the Linux kernel", "modulename ...", flags,
		func(c *cli.Context) error { return run(c, env, sys) })
}

// system is what rmmod looks at and calls; tests replace it.
type system struct {
	root    fs.FS
	kernel  loader.Kernel
	builtin func(string) bool
}

func run(c *cli.Context, env *tool.Env, sys system) error {
	if c.Bool("syslog") {
		env = logging.Syslog(env)
	}
	if c.NArg() == 0 {
		env.Errorf("missing module name.")
		return tool.Exit(1)
	}
	if sys.builtin == nil {
		sys.builtin = builtinList()
	}
	failed := 0
	for _, arg := range c.Args().Slice() {
		name := moduleName(arg)
		opts := loader.UnloadOptions{Force: c.Bool("force"), Root: sys.root, Kernel: sys.kernel, Builtin: sys.builtin}
		if c.Bool("verbose") {
			opts.Trace = func(name string, flags int, err error) {
				res := "ok"
				if err != nil {
					res = kernel.Message(kernel.Errno(err))
				}
				env.Infof("delete_module(%q, %#x): %s", name, flags, res)
			}
		}
		err := loader.Unload(name, opts)
		if err == nil {
			continue
		}
		failed++
		report(env, arg, name, err)
		if h := (diagnose.Unload{Name: name, Err: err}).Hint(); h != "" {
			env.Hintf("%s", h)
		}
	}
	if failed > 0 {
		return tool.Exit(1)
	}
	return nil
}

// report prints kmod's message for a removal that failed.
func report(env *tool.Env, arg, name string, err error) {
	var inUse *loader.InUseError
	switch {
	case errors.Is(err, loader.ErrBuiltin):
		env.Errorf("Module %s is builtin.", name)
	case errors.Is(err, loader.ErrNotLoaded):
		env.Errorf("Module %s is not currently loaded", name)
	case errors.As(err, &inUse) && len(inUse.Holders) > 0:
		env.Errorf("Module %s is in use by: %s", name, strings.Join(inUse.Holders, " "))
	case errors.Is(err, loader.ErrInUse):
		env.Errorf("Module %s is in use", name)
	case errors.Is(err, loader.ErrNoUnload):
		env.Errorf("Module unloading is not supported")
	case kernel.Errno(err) != 0:
		env.Errorf("could not remove module %s: %s", arg, kernel.Message(kernel.Errno(err)))
	default:
		env.Errorf("could not remove module %s: %v", arg, err)
	}
}

// moduleName is the module an argument names: for an existing file, the
// name recorded in it (or its file name), else the argument itself.
func moduleName(arg string) string {
	if fi, err := os.Stat(arg); err == nil && !fi.IsDir() {
		if f, err := modfile.Open(arg); err == nil {
			defer f.Close()
			if name, err := f.Name(); err == nil && name != "" {
				return moddb.Normalize(name)
			}
		}
		return moddb.ModuleName(arg)
	}
	return moddb.Normalize(arg)
}

// builtinList reports the modules that modules.builtin of the running
// kernel lists.
func builtinList() func(string) bool {
	release, err := kernel.Release()
	if err != nil {
		return nil
	}
	db := moddb.Open("", release)
	return func(name string) bool {
		ok, err := db.IsBuiltin(name)
		return err == nil && ok
	}
}
