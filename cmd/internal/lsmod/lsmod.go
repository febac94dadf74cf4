package lsmod

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/gokmod/gokmod/cmd/internal/logging"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

// Main runs golsmod.
func Main(env *tool.Env) int {
	return tool.Run(env, newApp(env, os.DirFS("/")), 1)
}

func newApp(env *tool.Env, root fs.FS) *cli.App {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "syslog", Aliases: []string{"s"}, Usage: "print messages to syslog, not stderr"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "enables more messages"},
		&cli.BoolFlag{Name: "json", Usage: "print the modules as JSON"},
	}
	return tool.NewApp(env, "show the status of modules in the Linux kernel", "", flags,
		func(c *cli.Context) error { return run(c, env, root) })
}

func run(c *cli.Context, env *tool.Env, root fs.FS) error {
	if c.Bool("syslog") {
		env = logging.Syslog(env)
	}
	if c.NArg() > 0 {
		env.Errorf("too many arguments provided.")
		return tool.Exit(1)
	}
	mods, err := sysmod.List(root)
	if err != nil {
		if kernel.Errno(err) != 0 {
			env.Errorf("could not get list of modules: %s", kernel.Message(kernel.Errno(err)))
		} else if errors.Is(err, fs.ErrNotExist) {
			env.Errorf("could not get list of modules: No such file or directory")
		} else {
			env.Errorf("could not get list of modules: %v", err)
		}
		return tool.Exit(1)
	}
	if c.Bool("json") {
		return writeJSON(env.Stdout, mods)
	}
	return Write(env.Stdout, mods)
}

// Write prints mods as kmod's lsmod does.
func Write(w io.Writer, mods []sysmod.Module) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("Module                  Size  Used by\n")
	for _, m := range mods {
		fmt.Fprintf(bw, "%-19s %8d  %d", m.Name, m.Size, m.Refcnt)
		sep := byte(' ')
		for _, h := range m.Holders {
			bw.WriteByte(sep)
			sep = ','
			bw.WriteString(h)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

func writeJSON(w io.Writer, mods []sysmod.Module) error {
	for i := range mods {
		if mods[i].Holders == nil {
			mods[i].Holders = []string{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(mods)
}
