package cliapp

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gokmod/gokmod/cmd/internal/tool"
)

// New returns an urfave/cli application set up the way every gokmod
// command wants it: short options combine ("-fv"), output goes to env's
// streams, there is no "help" subcommand, and errors are not printed by
// the library but by Run.
func New(env *tool.Env, usage, argsUsage string, flags []cli.Flag, action cli.ActionFunc) *cli.App {
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
func Run(env *tool.Env, app *cli.App, usageStatus int) int {
	app.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
		fmt.Fprintf(env.Stderr, "%s: %s\n", env.Name(), getoptMessage(err, env.Args))
		return tool.Exit(usageStatus)
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
