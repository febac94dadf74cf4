package lsmod

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

// Main runs golsmod.
func Main(env *tool.Env) int {
	return run(env, os.DirFS("/"))
}

const help = `Usage:
	%s [--json]
Show the modules loaded into the Linux kernel, as kmod's lsmod does.
Options:
	--json       print the modules as a JSON array (name, size, refcnt,
	             holders, state, taints)
	-h, --help   show this help
`

// run is lsmod over the system whose "/" is root. Like kmod 30's lsmod it
// takes no arguments and answers any it does not know with its usage line
// and status 1; --json and --help are gokmod's.
func run(env *tool.Env, root fs.FS) int {
	asJSON := false
	for _, a := range env.Args[1:] {
		switch a {
		case "--json":
			asJSON = true
		case "-h", "--help":
			fmt.Fprintf(env.Stdout, help, env.Name())
			return 0
		default:
			fmt.Fprintf(env.Stderr, "Usage: %s\n", env.Args[0])
			return 1
		}
	}
	mods, err := sysmod.List(root)
	if err != nil {
		msg := err.Error()
		if errno := kernel.Errno(err); errno != 0 {
			msg = kernel.Message(errno)
		} else if errors.Is(err, fs.ErrNotExist) {
			msg = "No such file or directory"
		}
		// kmod's lsmod words this one line apart from its other tools.
		fmt.Fprintf(env.Stderr, "Error: could not get list of modules: %s\n", msg)
		return 1
	}
	if asJSON {
		err = writeJSON(env.Stdout, mods)
	} else {
		err = Write(env.Stdout, mods)
	}
	if err != nil {
		env.Errorf("write: %v", err)
		return 1
	}
	return 0
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
