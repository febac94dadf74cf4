package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// flavours in the order the tool provisions and tests them.
var flavours = []string{"debian61", "debian612", "secure"}

const usage = `usage: gokmod-vm [--accel auto|kvm|tcg] COMMAND ...
  gokmod-vm provision [--kernel F]...
  gokmod-vm run [--kernel F] [--timeout D] [--env K=V]... -- CMD [ARGS...]
  gokmod-vm exec [--kernel F] [--timeout D] TESTBIN [ARGS...]
  gokmod-vm test [--kernel F]... [--jobs N] [--timeout D] [-- TEST-FLAGS...]
  gokmod-vm demo
  gokmod-vm modules --kdir DIR --out DIR
  gokmod-vm keys
kernel flavours: debian61 debian612 secure (default for run/exec: debian612)
accelerator (--accel, or GOKMOD_ACCEL): auto (default: KVM when a test guest
  boots under it, else TCG), kvm (fail unless KVM works), tcg
`

// usageError is a command-line mistake: exit status 2 and the usage text.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	status, err := dispatch(ctx, os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "gokmod-vm: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprint(os.Stderr, usage)
		}
		if status <= 0 {
			status = 2
		}
	}
	os.Exit(status)
}

func dispatch(ctx context.Context, args []string) (int, error) {
	// --accel MODE, before the command, is GOKMOD_ACCEL for this run and
	// the guests it boots.
	if len(args) > 0 && (args[0] == "--accel" || strings.HasPrefix(args[0], "--accel=")) {
		mode, ok := strings.CutPrefix(args[0], "--accel=")
		args = args[1:]
		if !ok {
			if len(args) == 0 {
				return 2, usagef("--accel needs a value (auto, kvm or tcg)")
			}
			mode, args = args[0], args[1:]
		}
		if _, err := parseAccelMode(mode); err != nil {
			return 2, err
		}
		os.Setenv(EnvAccel, mode)
	}
	if _, err := parseAccelMode(os.Getenv(EnvAccel)); err != nil {
		return 2, err
	}
	if len(args) == 0 {
		return 2, usagef("no command")
	}
	switch args[0] {
	case "provision":
		return cmdProvision(args[1:])
	case "run":
		return cmdRun(ctx, args[1:])
	case "exec":
		return cmdExec(ctx, args[1:])
	case "test":
		return cmdTest(ctx, args[1:])
	case "demo":
		return cmdDemo(ctx, args[1:])
	case "modules":
		return cmdModules(args[1:])
	case "keys":
		return cmdKeys(args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0, nil
	}
	return 2, usagef("unknown command %q", args[0])
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
}

// kernelList validates --kernel values; "all" or none means every flavour.
func kernelList(list []string, def []string) ([]string, error) {
	if len(list) == 0 {
		return def, nil
	}
	var out []string
	for _, k := range list {
		for _, k := range strings.Split(k, ",") {
			if k == "all" {
				out = append(out, flavours...)
				continue
			}
			ok := false
			for _, f := range flavours {
				ok = ok || f == k
			}
			if !ok {
				return nil, usagef("unknown kernel flavour %q (want %s)", k, strings.Join(flavours, ", "))
			}
			out = append(out, k)
		}
	}
	return out, nil
}
