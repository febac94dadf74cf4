package tool

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
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
