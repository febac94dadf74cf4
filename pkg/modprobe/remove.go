package modprobe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

// RemoveOptions change how a request is unloaded, as modprobe -r's
// options do.
type RemoveOptions struct {
	IgnoreCommands bool          // -i: ignore remove commands (and softdeps)
	RemoveHolders  bool          // --remove-holders: unload what holds the module first
	FirstTime      bool          // --first-time: a module that is not loaded is an error
	Force          bool          // -f: delete_module with O_TRUNC
	Wait           time.Duration // -w: wait for the module's users to go
	// KeepGoing goes on after a notice about a soft dependency or holder
	// (modprobe -a or -q); without it a notice ends the whole removal,
	// as it ends kmod's modprobe.
	KeepGoing bool
}

// NoticeKind says what a Notice reports.
type NoticeKind int

// The notices of an unload, each a message kmod's modprobe prints.
const (
	NoticeNotInKernel NoticeKind = iota + 1 // "Module %s is not in kernel."
	NoticeBuiltin                           // "Module %s is builtin."
	NoticeInUse                             // "Module %s is in use."
)

// Notice is a message an unload reports before it fails.
type Notice struct {
	Kind    NoticeKind
	Module  string
	Holders []string // for NoticeInUse
}

func (n Notice) String() string {
	switch n.Kind {
	case NoticeNotInKernel:
		return fmt.Sprintf("Module %s is not in kernel.", n.Module)
	case NoticeBuiltin:
		return fmt.Sprintf("Module %s is builtin.", n.Module)
	case NoticeInUse:
		return fmt.Sprintf("Module %s is in use.", n.Module)
	}
	return ""
}

// RemoveError is a failed unload: what went wrong, the module, and
// the notice kmod printed for it, if any.
type RemoveError struct {
	Module  string
	Notice  *Notice
	Command *Command // the remove command that failed, if one did
	Err     error
}

func (e *RemoveError) Error() string {
	if e.Notice != nil {
		return e.Notice.String()
	}
	return fmt.Sprintf("could not remove '%s': %v", e.Module, e.Err)
}

func (e *RemoveError) Unwrap() error { return e.Err }

// Remove resolves request into a plan to unload it. The plan lists what
// would be done with the system as it is now; Execute walks the modules
// again as it unloads them, since each unload changes what the next
// step sees (reference counts, holders).
func (p *Prober) Remove(ctx context.Context, request string, opts RemoveOptions) (*Plan, error) {
	plan := &Plan{Request: request, Remove: true, rmOpts: opts}
	s := p.newSession()
	nodes, err := s.lookup(request)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", request, err)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%s: %w", request, ErrNotFound)
	}
	for _, n := range nodes {
		t := &Target{Module: n.m}
		plan.Targets = append(plan.Targets, t)
		w := &remover{p: p, s: s, opts: opts, ctx: ctx, emit: func(st Step) error {
			t.Steps = append(t.Steps, st)
			return nil
		}}
		if err := w.module(n, false, opts.RemoveHolders); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

// remover is kmod's rmmod_do_module: it either records the steps or,
// with run set, carries them out.
type remover struct {
	p      *Prober
	s      *session
	opts   RemoveOptions
	ctx    context.Context
	emit   func(Step) error // called before each step; its error stops the walk
	run    bool
	show   func(Step)        // called before each step (for -v)
	report func(Step, error) // called on each failure
}

// fail reports err and returns it.
func (w *remover) fail(st Step, err error) error {
	if w.report != nil {
		w.report(st, err)
	}
	return err
}

func (w *remover) state(m *Module) (sysmod.State, bool) {
	if w.s.isBuiltin(m) {
		return sysmod.Builtin, true
	}
	st, err := sysmod.GetState(w.p.sys(), m.Name)
	if err != nil {
		return sysmod.Unknown, false
	}
	if st == sysmod.Builtin { // a directory without initstate: coming
		return sysmod.Coming, true
	}
	return st, true
}

func (w *remover) refcnt(name string) int {
	n, err := sysmod.Refcnt(w.p.sys(), name)
	if err != nil {
		return -1
	}
	return n
}

func (w *remover) list(nodes []*node, stopOnErrors bool) error {
	for i := len(nodes) - 1; i >= 0; i-- {
		err := w.module(nodes[i], true, false)
		if err != nil && (stopOnErrors || w.fatal(err)) {
			return err
		}
	}
	return nil
}

// fatal reports whether err ends the removal: a notice, unless
// KeepGoing, or a cancelled context.
func (w *remover) fatal(err error) bool {
	var re *RemoveError
	if errors.As(err, &re) && re.Notice != nil {
		return !w.opts.KeepGoing
	}
	return w.ctx.Err() != nil
}

func (w *remover) module(n *node, ignoreBuiltin, removeHolders bool) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	m := n.m
	var pre, post []*node
	var cmd *Command
	if !w.opts.IgnoreCommands {
		pre, post, _ = w.s.softdeps(n)
		cmd = w.p.removeCommand(m)
	}
	if cmd == nil {
		st, ok := w.state(m)
		switch {
		case !ok && w.opts.FirstTime:
			return w.fail(Step{Action: Unload, Module: m.Name}, &RemoveError{Module: m.Name, Notice: &Notice{Kind: NoticeNotInKernel, Module: m.Name}, Err: ErrNotLoaded})
		case !ok:
			return nil
		case st == sysmod.Builtin && ignoreBuiltin:
			return nil
		case st == sysmod.Builtin:
			return w.fail(Step{Action: Unload, Module: m.Name}, &RemoveError{Module: m.Name, Notice: &Notice{Kind: NoticeBuiltin, Module: m.Name}, Err: ErrBuiltin})
		}
	}
	if err := w.list(post, false); err != nil {
		return err
	}
	if removeHolders {
		holders, _ := sysmod.Holders(w.p.sys(), m.Name)
		var hn []*node
		for _, h := range holders {
			hn = append(hn, w.s.node(&Module{Name: h}))
		}
		if err := w.list(hn, true); err != nil {
			return err
		}
	}
	if cmd == nil && w.opts.Wait == 0 {
		if w.refcnt(m.Name) > 0 {
			holders, _ := sysmod.Holders(w.p.sys(), m.Name)
			return w.fail(Step{Action: Unload, Module: m.Name}, &RemoveError{Module: m.Name, Notice: &Notice{Kind: NoticeInUse, Module: m.Name, Holders: holders}, Err: ErrInUse})
		}
	}
	var err error
	if cmd == nil {
		err = w.unload(m.Name)
	} else {
		st := Step{Action: Remove, Module: m.Name, Command: cmd.Command, Run: strings.ReplaceAll(cmd.Command, "$CMDLINE_OPTS", ""), Required: true, Sources: []Source{cmd.Source}}
		if err = w.emit(st); err == nil {
			if w.show != nil {
				w.show(st)
			}
			if w.run {
				if rerr := w.p.runCommand(st.Run, m.Name); rerr != nil {
					err = w.fail(st, &RemoveError{Module: m.Name, Command: cmd, Err: rerr})
				}
			}
		}
	}
	if err != nil {
		return err
	}
	if cmd == nil {
		for _, d := range w.s.dependencies(n) {
			if w.refcnt(d.m.Name) == 0 {
				w.unload(d.m.Name)
			}
		}
	}
	return w.list(pre, false)
}

// unload is kmod's rmmod_do_remove_module.
func (w *remover) unload(name string) error {
	st := Step{Action: Unload, Module: name, Required: true}
	if err := w.emit(st); err != nil {
		return err
	}
	if w.show != nil {
		w.show(st)
	}
	if !w.run {
		return nil
	}
	flags := kernel.DeleteNonblock
	if w.opts.Force {
		flags |= kernel.DeleteTrunc
	}
	var deadline time.Time
	if w.opts.Wait > 0 {
		deadline = time.Now().Add(w.opts.Wait)
	}
	interval := time.Millisecond
	for {
		err := w.p.kernel().DeleteModule(name, flags)
		if err == nil {
			return nil
		}
		if w.opts.Wait > 0 && errors.Is(err, kernel.ErrWouldBlock) && time.Now().Before(deadline) {
			select {
			case <-w.ctx.Done():
				return w.ctx.Err()
			case <-time.After(interval):
			}
			if interval < time.Second {
				interval *= 2
			}
			continue
		}
		return w.fail(st, &RemoveError{Module: name, Err: err})
	}
}
