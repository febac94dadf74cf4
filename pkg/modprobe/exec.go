package modprobe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
)

// ExecOptions change how a plan is carried out.
type ExecOptions struct {
	// Show is called before each step that does something (kmod's -v
	// prints it).
	Show func(Step)
	// Trace is called after every module syscall.
	Trace func(loader.Attempt)
	// Report is called on every failure as it happens, also those
	// Execute goes on after (soft dependencies, unused dependencies
	// that would not unload).
	Report func(Step, error)
	// DryRun does everything but the syscalls and commands.
	DryRun bool
}

// LoadError is a target that failed to load: the step that failed and
// why.
type LoadError struct {
	Module string // the target
	Step   Step   // the step that failed
	Err    error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("could not insert '%s': %v", e.Module, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// CommandError is an install or remove command that failed.
type CommandError struct {
	Command string
	Status  int // its exit status; -1 if it could not run
	Err     error
}

func (e *CommandError) Error() string {
	if e.Status < 0 {
		return fmt.Sprintf("could not run '%s': %v", e.Command, e.Err)
	}
	return fmt.Sprintf("'%s' exited with status %d", e.Command, e.Status)
}

func (e *CommandError) Unwrap() error { return ErrCommand }

func (p *Prober) kernel() loader.Kernel {
	if p.opts.Kernel == nil {
		return loader.LiveKernel{}
	}
	return p.opts.Kernel
}

// runCommand runs an install or remove command as system(3) does, with
// MODPROBE_MODULE set.
func (p *Prober) runCommand(command, module string) error {
	if p.opts.Run != nil {
		return p.opts.Run(command, module)
	}
	return RunShell(command, append(os.Environ(), "MODPROBE_MODULE="+module))
}

// RunShell runs command with /bin/sh -c and the environment env, on the
// process's standard streams, as system(3) does; a non-zero exit status
// is a *CommandError.
func RunShell(command string, env []string) error {
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if !ee.Exited() {
			return nil // killed by a signal: system(3)'s WEXITSTATUS is 0
		}
		return &CommandError{Command: command, Status: ee.ExitCode(), Err: err}
	}
	return &CommandError{Command: command, Status: -1, Err: err}
}

// Execute carries out a plan: for a load, its targets' steps in order,
// each module loaded through package loader (in-kernel decompression,
// the userspace retry and force flags included); a module that is in
// the kernel by then, or that another process loads meanwhile (EEXIST),
// counts as loaded. Failures of soft dependencies are ignored, as kmod
// ignores them. The error joins a *LoadError (or *RemoveError) per
// failed target.
func (p *Prober) Execute(ctx context.Context, plan *Plan, opts ExecOptions) error {
	if plan.Remove {
		return p.executeRemove(ctx, plan, opts)
	}
	var errs []error
	for _, t := range plan.Targets {
		if err := p.executeTarget(ctx, t, plan.opts, opts); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

func (p *Prober) executeRemove(ctx context.Context, plan *Plan, opts ExecOptions) error {
	s := p.newSession()
	nodes, err := s.lookup(plan.Request)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		w := &remover{p: p, s: s, opts: plan.rmOpts, ctx: ctx, run: !opts.DryRun, show: opts.Show,
			report: opts.Report, emit: func(Step) error { return nil }}
		if err := w.module(n, false, plan.rmOpts.RemoveHolders); err != nil {
			return err
		}
	}
	return nil
}

func (p *Prober) executeTarget(ctx context.Context, t *Target, io InsertOptions, opts ExecOptions) error {
	switch t.Outcome {
	case Loaded:
		if t.FirstTime {
			return &LoadError{Module: t.Module.Name, Err: ErrAlreadyLoaded}
		}
		return nil
	case Blacklisted:
		return nil
	}
	s := p.newSession()
	for _, st := range t.Steps {
		if err := ctx.Err(); err != nil {
			return &LoadError{Module: t.Module.Name, Step: st, Err: err}
		}
		err := p.runStep(ctx, s, st, io, opts)
		if errors.Is(err, ErrAlreadyLoaded) {
			if st.Target && io.FirstTime {
				return &LoadError{Module: t.Module.Name, Step: st, Err: err}
			}
			continue
		}
		if err != nil && st.Required {
			return &LoadError{Module: t.Module.Name, Step: st, Err: err}
		}
	}
	return nil
}

// runStep does one step; a module in the kernel already is
// ErrAlreadyLoaded.
func (p *Prober) runStep(ctx context.Context, s *session, st Step, io InsertOptions, opts ExecOptions) error {
	m := &Module{Name: st.Module, Path: st.Path, Builtin: st.Action == Builtin}
	if st.Action == AlreadyLoaded || (!io.IgnoreLoaded && p.inKernel(s, m)) {
		return ErrAlreadyLoaded
	}
	if opts.Show != nil {
		opts.Show(st)
	}
	if opts.DryRun || st.Action == Builtin {
		return nil
	}
	var err error
	switch st.Action {
	case Install:
		err = p.runCommand(st.Run, st.Module)
	case NoFile:
		err = fmt.Errorf("%s: %w", st.Module, ErrNoFile)
	default:
		err = p.loadOnce(ctx, st, io, opts)
	}
	if err != nil && !errors.Is(err, ErrAlreadyLoaded) && opts.Report != nil {
		opts.Report(st, err)
	}
	return err
}

// inflight is a module being loaded; others wanting it wait for done.
type inflight struct {
	done chan struct{}
	err  error
}

// loadOnce loads one module file unless another goroutine of this
// Prober is loading it, in which case it waits for that load's result.
func (p *Prober) loadOnce(ctx context.Context, st Step, io InsertOptions, opts ExecOptions) error {
	p.loadMu.Lock()
	if f, ok := p.loading[st.Module]; ok {
		p.loadMu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if f.err == nil {
			return ErrAlreadyLoaded
		}
		return f.err
	}
	f := &inflight{done: make(chan struct{})}
	p.loading[st.Module] = f
	p.loadMu.Unlock()

	err := loader.Load(st.Path, loader.Options{
		Params: st.Params,
		Force:  io.Force,
		Root:   p.opts.Sys,
		Kernel: p.opts.Kernel,
		Trace:  opts.Trace,
	})
	if errors.Is(err, kernel.ErrExist) {
		err = ErrAlreadyLoaded
	}
	f.err = err
	if errors.Is(err, ErrAlreadyLoaded) {
		f.err = nil
	}
	p.loadMu.Lock()
	delete(p.loading, st.Module)
	p.loadMu.Unlock()
	close(f.done)
	return err
}
