package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gokmod/gokmod/cmd/internal/check"
	"github.com/gokmod/gokmod/cmd/internal/depmod"
	"github.com/gokmod/gokmod/cmd/internal/insmod"
	"github.com/gokmod/gokmod/cmd/internal/kmodsign"
	"github.com/gokmod/gokmod/cmd/internal/lsmod"
	"github.com/gokmod/gokmod/cmd/internal/modinfo"
	"github.com/gokmod/gokmod/cmd/internal/modlink"
	"github.com/gokmod/gokmod/cmd/internal/modprobe"
	"github.com/gokmod/gokmod/cmd/internal/rmmod"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

// commands maps a tool name, as kmod names it, to its Main.
var commands = map[string]func(*tool.Env) int{
	"insmod":    insmod.Main,
	"rmmod":     rmmod.Main,
	"lsmod":     lsmod.Main,
	"modinfo":   modinfo.Main,
	"modprobe":  modprobe.Main,
	"depmod":    depmod.Main,
	"kmodsign":  kmodsign.Main,
	"sign-file": kmodsign.Main,
	"check":     check.Main,
	"link":      modlink.Main,
	"modlink":   modlink.Main,
}

func lookup(name string) (func(*tool.Env) int, bool) {
	if m, ok := commands[name]; ok {
		return m, true
	}
	m, ok := commands[strings.TrimPrefix(name, "go")]
	return m, ok && strings.HasPrefix(name, "go")
}

func run(env *tool.Env) int {
	if m, ok := lookup(env.Name()); ok && env.Name() != "gokmod" {
		return m(env)
	}
	if len(env.Args) < 2 || env.Args[1] == "-h" || env.Args[1] == "--help" {
		usage(env)
		if len(env.Args) < 2 {
			return 1
		}
		return 0
	}
	m, ok := lookup(env.Args[1])
	if !ok {
		env.Errorf("unknown command %q", env.Args[1])
		usage(env)
		return 1
	}
	sub := *env
	sub.Args = env.Args[1:]
	return m(&sub)
}

func usage(env *tool.Env) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(env.Stderr, "Usage:\n\t%s COMMAND [ARGS...]\n\tCOMMAND [ARGS...] (through a link named like the command)\nCommands:\n\t%s\n",
		env.Name(), strings.Join(names, "\n\t"))
}
