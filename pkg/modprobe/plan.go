package modprobe

import (
	"fmt"
	"strings"

	"github.com/gokmod/gokmod/pkg/loader"
	"github.com/gokmod/gokmod/pkg/moddb"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

// Action is what a Step does.
type Action int

// The actions of a plan.
const (
	Load          Action = iota + 1 // load Path with Params
	Builtin                         // the module is built into the kernel: nothing to do
	AlreadyLoaded                   // the module is loaded: nothing to do
	Install                         // run an install command instead of loading
	NoFile                          // a module with no file and not built in: loading it fails
	Unload                          // unload the module
	Remove                          // run a remove command instead of unloading
)

var actionNames = map[Action]string{
	Load: "load", Builtin: "builtin", AlreadyLoaded: "loaded", Install: "install",
	NoFile: "nofile", Unload: "unload", Remove: "remove",
}

func (a Action) String() string { return actionNames[a] }

// MarshalText writes the action's name, for JSON.
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Step is one thing a plan does to one module.
type Step struct {
	Action Action `json:"action"`
	Module string `json:"module"`
	Path   string `json:"path,omitempty"`
	// Params are the module parameters: modprobe.d options, the kernel
	// command line's, then the request's own.
	Params string `json:"params,omitempty"`
	// Command is an install or remove command as configured; Run is it
	// with $CMDLINE_OPTS replaced by Params.
	Command string `json:"command,omitempty"`
	Run     string `json:"-"`
	// Required is false for soft dependencies, whose failures are ignored.
	Required bool `json:"required"`
	// Target marks the module that was asked for.
	Target bool `json:"target,omitempty"`
	// Sources are the configuration lines behind the step: its options
	// and its command.
	Sources []Source `json:"sources,omitempty"`
}

// Line is the step as kmod's modprobe prints it with --show-depends or
// -n -v; "" for a step it does not print.
func (s Step) Line() string {
	switch s.Action {
	case Load:
		return fmt.Sprintf("insmod %s %s\n", s.Path, s.Params)
	case Builtin:
		return fmt.Sprintf("builtin %s\n", s.Module)
	case Install:
		return fmt.Sprintf("install %s %s\n", s.Command, s.Params)
	case Unload:
		return fmt.Sprintf("rmmod %s\n", s.Module)
	case Remove:
		return fmt.Sprintf("remove %s\n", s.Run)
	}
	return ""
}

// Outcome says how a target ended before any step ran.
type Outcome int

// Outcomes of a target.
const (
	Planned     Outcome = iota // its steps are to be run
	Loaded                     // it is in the kernel already: nothing to do
	Blacklisted                // a blacklist entry keeps it out: nothing to do
)

func (o Outcome) String() string {
	switch o {
	case Loaded:
		return "loaded"
	case Blacklisted:
		return "blacklisted"
	}
	return "planned"
}

// MarshalText writes the outcome's name, for JSON.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Target is one module a request resolved to, and its steps.
type Target struct {
	Module  *Module `json:"module"`
	Outcome Outcome `json:"outcome"`
	// Blacklist is the entry that kept a Blacklisted target out.
	Blacklist *Blacklist `json:"blacklist,omitempty"`
	Steps     []Step     `json:"steps"`
	// FirstTime is set when the request wants an error for a target
	// that is loaded already (--first-time).
	FirstTime bool `json:"-"`
}

// Plan is what loading (or unloading) one request takes.
type Plan struct {
	Request string    `json:"request"`
	Remove  bool      `json:"remove,omitempty"`
	Targets []*Target `json:"targets"`
	opts    InsertOptions
	rmOpts  RemoveOptions
}

// InsertOptions change how a request is resolved and loaded, as
// modprobe's options do.
type InsertOptions struct {
	Params         string       // parameters for the requested module (modprobe NAME PARAMS...)
	IgnoreCommands bool         // -i: load files, not install commands
	IgnoreLoaded   bool         // --show-depends: plan loaded modules too
	UseBlacklist   bool         // -b: blacklist applies to names too, not only aliases
	FirstTime      bool         // --first-time: a loaded target is an error
	Force          loader.Force // -f, --force-modversion, --force-vermagic
}

// node is a module in one resolution, as libkmod keeps a kmod_module in
// its pool: found once per key, with the walk's marks.
type node struct {
	m         *Module
	visited   bool
	required  bool
	ignorecmd bool
	deps      []*node
	depsInit  bool
}

// session is one resolution: libkmod's module pool.
type session struct {
	p    *Prober
	pool map[string]*node
}

func (p *Prober) newSession() *session {
	return &session{p: p, pool: map[string]*node{}}
}

func (s *session) node(m *Module) *node {
	if n, ok := s.pool[m.key()]; ok {
		if n.m.Install == nil && m.Install != nil {
			n.m.Install = m.Install
		}
		if n.m.Remove == nil && m.Remove != nil {
			n.m.Remove = m.Remove
		}
		return n
	}
	n := &node{m: m}
	s.pool[m.key()] = n
	return n
}

func (s *session) lookup(name string) ([]*node, error) {
	mods, err := s.p.Lookup(name)
	if err != nil {
		return nil, err
	}
	var out []*node
	for _, m := range mods {
		out = append(out, s.node(m))
	}
	return out, nil
}

// dependencies are a module's modules.dep entries, in load order (the
// reverse of the line's).
func (s *session) dependencies(n *node) []*node {
	if n.depsInit {
		return n.deps
	}
	n.depsInit = true
	s.p.mu.Lock()
	dm, ok := s.p.depOf(n.m.Name)
	s.p.mu.Unlock()
	if !ok {
		return nil
	}
	if n.m.Path == "" {
		n.m.Path = dm.Path
	}
	for i := len(dm.deps) - 1; i >= 0; i-- {
		d := dm.deps[i]
		dn := s.node(&Module{Name: moddb.ModuleName(d), Path: d})
		if dn.m.Path == "" {
			dn.m.Path = d
		}
		n.deps = append(n.deps, dn)
	}
	return n.deps
}

// softdeps returns the modules of the first softdep entry whose pattern
// matches the module's name.
func (s *session) softdeps(n *node) (pre, post []*node, src *Softdep) {
	for i := range s.p.config.Softdeps {
		sd := &s.p.config.Softdeps[i]
		if !moddb.Match(sd.Module, n.m.Name) {
			continue
		}
		for _, name := range sd.Pre {
			l, _ := s.lookup(name)
			pre = append(pre, l...)
		}
		for _, name := range sd.Post {
			l, _ := s.lookup(name)
			post = append(post, l...)
		}
		return pre, post, sd
	}
	return nil, nil, nil
}

func (s *session) probeList(n *node, required, ignorecmd bool, list *[]*node) {
	if n.visited {
		return
	}
	n.visited = true
	deps := s.dependencies(n)
	if required {
		n.required = true
		for _, d := range deps {
			d.required = true
		}
	}
	for _, d := range deps {
		s.fillSoftdep(d, list)
	}
	if ignorecmd {
		*list = append(*list, n)
		n.ignorecmd = true
		return
	}
	s.fillSoftdep(n, list)
}

func (s *session) fillSoftdep(n *node, list *[]*node) {
	pre, post, _ := s.softdeps(n)
	for _, m := range pre {
		s.probeList(m, false, false, list)
	}
	*list = append(*list, n)
	n.ignorecmd = len(pre) > 0 || len(post) > 0
	for _, m := range post {
		s.probeList(m, false, false, list)
	}
}

// isBuiltin reports whether the built-in indexes name the module.
func (s *session) isBuiltin(m *Module) bool {
	if m.Builtin {
		return true
	}
	if m.Path != "" {
		return false
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	return s.p.isBuiltinName(m.Name)
}

// path is the module's file, from modules.dep.
func (s *session) path(n *node) string {
	if n.m.Path == "" {
		s.dependencies(n)
	}
	return n.m.Path
}

// inKernel reports what kmod's module_is_inkernel does: built in, or
// live in /sys/module.
func (p *Prober) inKernel(s *session, m *Module) bool {
	if s.isBuiltin(m) {
		return true
	}
	st, err := sysmod.GetState(p.sys(), m.Name)
	return err == nil && st == sysmod.Live
}

// options are the modprobe.d and kernel command line options for m.
func (p *Prober) options(m *Module) (string, []Source) {
	var parts []string
	var srcs []Source
	for _, o := range p.config.Options {
		if o.Module != m.Name && (m.Alias == "" || o.Module != m.Alias) {
			continue
		}
		if o.Options == "" {
			continue
		}
		parts = append(parts, o.Options)
		srcs = append(srcs, o.Source)
	}
	return strings.Join(parts, " "), srcs
}

// installCommand is the module's install command: the one its lookup
// found, else the first whose pattern matches its name.
func (p *Prober) installCommand(m *Module) *Command {
	if m.Install != nil {
		return m.Install
	}
	for i := range p.config.Installs {
		if moddb.Match(p.config.Installs[i].Module, m.Name) {
			return &p.config.Installs[i]
		}
	}
	return nil
}

func (p *Prober) removeCommand(m *Module) *Command {
	if m.Remove != nil {
		return m.Remove
	}
	for i := range p.config.Removes {
		if moddb.Match(p.config.Removes[i].Module, m.Name) {
			return &p.config.Removes[i]
		}
	}
	return nil
}

func (p *Prober) blacklisted(name string) *Blacklist {
	for i := range p.config.Blacklists {
		if p.config.Blacklists[i].Module == name {
			return &p.config.Blacklists[i]
		}
	}
	return nil
}

// concat joins configured and requested options as libkmod does: a
// space after the configured ones even when nothing follows.
func concat(opt, xopt string) string {
	if opt == "" {
		return xopt
	}
	return opt + " " + xopt
}

// Insert resolves request (a module name or alias) into a plan to load
// it. A request nothing matches is an error wrapping ErrNotFound; an
// invalid pattern wraps ErrBadAlias.
func (p *Prober) Insert(request string, opts InsertOptions) (*Plan, error) {
	s := p.newSession()
	nodes, err := s.lookup(request)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", request, err)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%s: %w", request, ErrNotFound)
	}
	plan := &Plan{Request: request, opts: opts}
	for _, n := range nodes {
		plan.Targets = append(plan.Targets, p.target(s, n, opts))
	}
	return plan, nil
}

func (p *Prober) target(s *session, n *node, opts InsertOptions) *Target {
	t := &Target{Module: n.m, FirstTime: opts.FirstTime}
	if !opts.IgnoreLoaded && p.inKernel(s, n.m) {
		t.Outcome = Loaded
		return t
	}
	if n.m.Alias != "" || opts.UseBlacklist {
		if bl := p.blacklisted(n.m.Name); bl != nil {
			t.Outcome = Blacklisted
			t.Blacklist = bl
			return t
		}
	}
	for _, v := range s.pool {
		v.visited, v.required = false, false
	}
	var list []*node
	s.probeList(n, true, opts.IgnoreCommands, &list)
	for _, m := range list {
		t.Steps = append(t.Steps, p.step(s, m, m == n, opts))
	}
	return t
}

func (p *Prober) step(s *session, n *node, target bool, opts InsertOptions) Step {
	st := Step{Module: n.m.Name, Required: n.required, Target: target}
	if !opts.IgnoreLoaded && p.inKernel(s, n.m) {
		st.Action = AlreadyLoaded
		return st
	}
	var xopt string
	if target {
		xopt = opts.Params
	}
	mopt, srcs := p.options(n.m)
	st.Params = concat(mopt, xopt)
	st.Sources = srcs
	if cmd := p.installCommand(n.m); cmd != nil && !n.ignorecmd {
		st.Action = Install
		st.Command = cmd.Command
		st.Run = strings.ReplaceAll(cmd.Command, "$CMDLINE_OPTS", st.Params)
		st.Sources = append(st.Sources, cmd.Source)
		return st
	}
	st.Path = s.path(n)
	switch {
	case st.Path != "":
		st.Action = Load
	case s.isBuiltin(n.m):
		st.Action = Builtin
	default:
		st.Action = NoFile
		if n.m.Via != nil {
			st.Sources = append(st.Sources, n.m.Via.Source)
		}
	}
	return st
}
