package insmod

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gokmod/gokmod/cmd/internal/check"
	"github.com/gokmod/gokmod/cmd/internal/cliapp"
	"github.com/gokmod/gokmod/cmd/internal/explain"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
)

// Main runs goinsmod.
func Main(env *tool.Env) int {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "force the load: ignore the version magic and symbol versions"},
		&cli.BoolFlag{Name: "force-modversion", Usage: "ignore symbol versions (CONFIG_MODVERSIONS)"},
		&cli.BoolFlag{Name: "force-vermagic", Usage: "ignore the version magic"},
		&cli.BoolFlag{Name: "s", Hidden: true, Usage: "ignored, for compatibility (kmod 30 ignores it too)"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print each syscall made"},
		&cli.BoolFlag{Name: "p", Hidden: true, Usage: "ignored, for compatibility"},
		&cli.StringFlag{Name: tool.ImageLimitFlag, Usage: tool.ImageLimitUsage},
		&cli.BoolFlag{Name: "check", Usage: "do not load: say whether the module would load, step by step (exit 0 would load, 1 would fail, 2 cannot tell)"},
	}
	flags = append(flags, check.Flags()...)
	app := cliapp.New(env, "insert a module into the Linux kernel", "filename [args]", flags,
		func(c *cli.Context) error { return run(c, env) })
	return cliapp.Run(env, app, 1)
}

func run(c *cli.Context, env *tool.Env) error {
	if c.NArg() == 0 {
		env.Errorf("missing filename.")
		return tool.Exit(1)
	}
	filename := c.Args().First()
	if filename == "-" {
		env.Errorf("this tool does not support loading from stdin!")
		return tool.Exit(1)
	}
	if _, err := os.Stat(filename); err != nil {
		env.Errorf("could not load module %s: %s", filename, reason(err))
		return tool.Exit(1)
	}
	if c.Bool("check") {
		return tool.Exit(check.Run(env, []string{filename}, loader.JoinParams(c.Args().Tail()), check.FromContext(c)))
	}
	opts := loader.Options{
		Params: loader.JoinParams(c.Args().Tail()),
		Force: loader.Force{
			Modversions: c.Bool("force") || c.Bool("force-modversion"),
			Vermagic:    c.Bool("force") || c.Bool("force-vermagic"),
		},
	}
	if v := c.String(tool.ImageLimitFlag); v != "" {
		n, err := tool.ParseSize(v)
		if err != nil {
			env.Errorf("--%s: %v", tool.ImageLimitFlag, err)
			return tool.Exit(1)
		}
		opts.MaxSize = n
	}
	// The image the loader read (decompressed) serves the hint too: a
	// module is never decompressed twice.
	var image []byte
	opts.Trace = func(a loader.Attempt) {
		if a.Image != nil {
			image = a.Image
		}
		if c.Bool("verbose") {
			env.Infof("%s", describe(filename, a))
		}
	}

	kmsg, _ := kernel.OpenKmsg() // without it there are no log lines to show
	err := loader.Load(filename, opts)
	var recs []kernel.Record
	if kmsg != nil {
		recs, _ = kmsg.Read()
		kmsg.Close()
	}
	if err == nil && !mentions(recs, "parameter") {
		return nil // nothing to explain
	}
	if err != nil {
		env.Errorf("could not insert module %s: %s", filename, reason(err))
	}
	d := explain.Diagnosis(filename, image, opts.MaxSize, err, recs)
	hint := d.Hint()
	if err != nil || hint != "" {
		for _, r := range d.Relevant() {
			fmt.Fprintf(env.Stderr, "[%5d.%06d] %s\n", r.Time.Microseconds()/1e6, r.Time.Microseconds()%1e6, r.Message)
		}
	}
	if hint != "" {
		env.Hintf("%s", hint)
	}
	if err != nil {
		return tool.Exit(1)
	}
	return nil
}

// mentions reports whether a record holds s.
func mentions(recs []kernel.Record, s string) bool {
	for _, r := range recs {
		if strings.Contains(r.Message, s) {
			return true
		}
	}
	return false
}

// reason is what kmod prints after the file name: its own words for the
// errnos of a failed load (tools/insmod.c mod_strerror), else strerror.
func reason(err error) string {
	errno := kernel.Errno(err)
	if errno == 0 {
		return err.Error()
	}
	var kerr *kernel.Error
	if !errors.As(err, &kerr) {
		return kernel.Message(errno) // opening the file
	}
	switch {
	case errors.Is(kerr, kernel.ErrNoExec):
		return "Invalid module format"
	case errors.Is(kerr, kernel.ErrNotExist):
		return "Unknown symbol in module"
	case errors.Is(kerr, kernel.ErrSymbolVer):
		return "Module has wrong symbol version"
	case errors.Is(kerr, kernel.ErrInvalid):
		return "Invalid parameters"
	}
	return kernel.Message(errno)
}

func describe(filename string, a loader.Attempt) string {
	var b strings.Builder
	switch a.Syscall {
	case loader.FinitModule:
		fmt.Fprintf(&b, "finit_module(%s, %q, %#x)", filename, a.Params, a.Flags)
	default:
		what := "image"
		if a.Decompress {
			what = "decompressed image"
		}
		if a.Strip.Any() {
			what = "stripped " + what
		}
		fmt.Fprintf(&b, "init_module(%s of %d bytes, %q)", what, a.Size, a.Params)
	}
	if a.Err != nil {
		fmt.Fprintf(&b, ": %s", kernel.Message(kernel.Errno(a.Err)))
	} else {
		b.WriteString(": ok")
	}
	return b.String()
}
