package tool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
)

// Env is what a command runs with. Main functions take an Env instead of
// reading os.Args and os.Stdout, so that tests and the multi-call binary can
// run them in-process.
type Env struct {
	Args   []string // Args[0] is the name the command was called by
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// OS returns the Env of the running process.
func OS() *Env {
	return &Env{Args: os.Args, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
}

// Name is the base name the command was called by, which prefixes its
// messages as it does kmod's.
func (e *Env) Name() string {
	if len(e.Args) == 0 || e.Args[0] == "" {
		return "gokmod"
	}
	return filepath.Base(e.Args[0])
}

// Errorf prints kmod's error line: "NAME: ERROR: message".
func (e *Env) Errorf(format string, a ...any) {
	fmt.Fprintf(e.Stderr, "%s: ERROR: %s\n", e.Name(), fmt.Sprintf(format, a...))
}

// Warnf prints kmod's warning line: "NAME: WARNING: message".
func (e *Env) Warnf(format string, a ...any) {
	fmt.Fprintf(e.Stderr, "%s: WARNING: %s\n", e.Name(), fmt.Sprintf(format, a...))
}

// Infof prints a verbose line: "NAME: message".
func (e *Env) Infof(format string, a ...any) {
	fmt.Fprintf(e.Stderr, "%s: %s\n", e.Name(), fmt.Sprintf(format, a...))
}

// Hintf prints the line that tells the user what to do next: "hint: message".
// kmod has no such line; gokmod adds it after an error it can explain.
func (e *Env) Hintf(format string, a ...any) {
	fmt.Fprintf(e.Stderr, "hint: %s\n", fmt.Sprintf(format, a...))
}

// Exit is an error that carries an exit status and whose message has
// already been printed (or needs none).
type Exit int

func (x Exit) Error() string { return fmt.Sprintf("exit status %d", int(x)) }

// ExitCode makes Exit a cli.ExitCoder.
func (x Exit) ExitCode() int { return int(x) }

// NewApp returns an urfave/cli application set up the way every gokmod
// command wants it: short options combine ("-fv"), output goes to env's
// streams, there is no "help" subcommand, and errors are not printed by
// the library but by Run.
func NewApp(env *Env, usage, argsUsage string, flags []cli.Flag, action cli.ActionFunc) *cli.App {
	return &cli.App{
		Name:                   env.Name(),
		Usage:                  usage,
		ArgsUsage:              argsUsage,
		Flags:                  flags,
		Action:                 action,
		UseShortOptionHandling: true,
		HideHelpCommand:        true,
		HideVersion:            true,
		Reader:                 env.Stdin,
		Writer:                 env.Stdout,
		ErrWriter:              env.Stderr,
		ExitErrHandler:         func(*cli.Context, error) {},
	}
}

// Run runs app on env's arguments and turns the outcome into an exit status.
// A flag the application does not know, or one missing its value, is a usage
// error, reported in getopt's words as kmod's tools report it and answered
// with status usageStatus (kmod's tools exit 1, sign-file 2). An Exit error
// carries its status; any other error is printed as an ERROR line and gives
// status 1.
func Run(env *Env, app *cli.App, usageStatus int) int {
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		fmt.Fprintf(env.Stderr, "%s: %s\n", env.Name(), getoptMessage(err, env.Args))
		return Exit(usageStatus)
	}
	err := app.Run(env.Args)
	if err == nil {
		return 0
	}
	var exit cli.ExitCoder
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	env.Errorf("%v", err)
	return 1
}

// getoptMessage words a flag-parsing error the way glibc's getopt_long does.
// The flag package names the option without telling whether it was given
// as "-x" or "--x", so the arguments decide.
func getoptMessage(err error, args []string) string {
	msg := err.Error()
	for _, f := range []struct{ prefix, long, short string }{
		{"flag provided but not defined: -", "unrecognized option '--%s'", "invalid option -- '%s'"},
		{"flag needs an argument: -", "option '--%s' requires an argument", "option requires an argument -- '%s'"},
	} {
		name, ok := strings.CutPrefix(msg, f.prefix)
		if !ok {
			continue
		}
		for _, a := range args {
			if a == "--"+name || strings.HasPrefix(a, "--"+name+"=") {
				return fmt.Sprintf(f.long, name)
			}
		}
		if len(name) == 1 {
			return fmt.Sprintf(f.short, name)
		}
		return fmt.Sprintf(f.long, name)
	}
	return msg
}
