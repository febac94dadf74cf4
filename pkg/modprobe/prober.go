package modprobe

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/gokmod/gokmod/pkg/loader"
	"github.com/gokmod/gokmod/pkg/moddb"
	"github.com/gokmod/gokmod/pkg/modfile"
)

// Options configure a Prober. The zero value is the running system.
type Options struct {
	// Root is the directory holding lib/modules ("" is "/"), as
	// modprobe -d names it.
	Root string
	// KernelRelease is the kernel whose modules are used (modprobe -S);
	// "" reads the running kernel's release.
	KernelRelease string
	// ConfigPaths are the modprobe.d directories or files (modprobe -C);
	// nil is DefaultConfigPaths.
	ConfigPaths []string
	// ConfigFS holds ConfigPaths and CmdlinePath; nil is the operating
	// system's files (relative paths from the working directory).
	ConfigFS fs.FS
	// CmdlinePath is the kernel command line read for module options;
	// "" is /proc/cmdline, "-" reads none.
	CmdlinePath string
	// Config, if set, is used instead of reading ConfigPaths.
	Config *Config
	// Sys is the running system's "/" for /sys/module (what is loaded,
	// holders, refcounts) and /sys/module/compression; nil is
	// os.DirFS("/").
	Sys fs.FS
	// Kernel makes the module syscalls; nil is the running kernel.
	Kernel loader.Kernel
	// Run runs an install or remove command with MODPROBE_MODULE set;
	// nil runs it with /bin/sh -c.
	Run func(command, module string) error
}

// Prober resolves and loads modules of one kernel's module tree.
type Prober struct {
	opts   Options
	dir    string
	config *Config

	mu   sync.Mutex // guards db and bins, which load lazily
	db   *moddb.DB
	bins [numIndexes]binIndex

	loadMu  sync.Mutex
	loading map[string]*inflight // modules being loaded by Execute/Batch
}

// New returns a Prober for opts; it reads the configuration at once, as
// kmod does when it starts.
func New(opts Options) (*Prober, error) {
	kver := opts.KernelRelease
	if kver == "" {
		rel, err := KernelRelease()
		if err != nil {
			return nil, err
		}
		kver = rel
	}
	dir := strings.TrimSuffix(opts.Root, "/") + "/lib/modules/" + kver
	if opts.Root != "" && !strings.HasPrefix(opts.Root, "/") {
		if wd, err := os.Getwd(); err == nil {
			dir = wd + "/" + dir
		}
	}
	p := &Prober{opts: opts, dir: dir, db: moddb.New(os.DirFS(dir), dir), loading: map[string]*inflight{}}
	p.config = opts.Config
	if p.config == nil {
		paths := opts.ConfigPaths
		if paths == nil {
			paths = DefaultConfigPaths
		}
		var cmdline []byte
		switch opts.CmdlinePath {
		case "-":
		case "":
			cmdline, _ = readConfigFile(opts.ConfigFS, "/proc/cmdline")
		default:
			cmdline, _ = readConfigFile(opts.ConfigFS, opts.CmdlinePath)
		}
		p.config = LoadConfig(opts.ConfigFS, dir, paths, cmdline)
	}
	return p, nil
}

// KernelRelease is the running kernel's release (uname -r).
func KernelRelease() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Dir is the module directory, <root>/lib/modules/<release>, as kmod
// names it in messages.
func (p *Prober) Dir() string { return p.dir }

// Config is the configuration the Prober uses.
func (p *Prober) Config() *Config { return p.config }

func (p *Prober) sys() fs.FS {
	if p.opts.Sys == nil {
		return os.DirFS("/")
	}
	return p.opts.Sys
}

// Module is a module as a lookup found it.
type Module struct {
	Name  string // the module name ('-' made '_')
	Alias string // the alias it was found by ("" when found by name)
	// Path is the module's file; "" for a built-in module or one with no
	// modules.dep entry.
	Path    string
	Builtin bool // in modules.builtin or modules.builtin.modinfo
	// Install is the install command a lookup by install command found.
	Install *Command
	// Remove is the remove command a lookup by remove command found.
	Remove *Command
	// Via is the configuration alias that named the module, if any.
	Via *Alias

	deps []string // modules.dep dependencies, as found by depOf
}

// key identifies a module as libkmod's pool does: its name, or its name
// and the alias it was found by.
func (m *Module) key() string {
	if m.Alias == "" {
		return m.Name
	}
	return m.Name + "\\" + m.Alias
}

func ignorable(err error) bool {
	return errors.Is(err, moddb.ErrNotFound) || errors.Is(err, fs.ErrNotExist)
}

// Lookup finds the modules name names, trying in kmod's order:
// configuration aliases (fnmatch), a modules.dep name, "symbol:NAME" in
// modules.symbols, install and remove commands, modules.alias patterns,
// modules.builtin, then the aliases of built-in modules; the first step
// with an answer wins. No match is an empty list and no error; a name
// that is no valid pattern is ErrBadAlias.
func (p *Prober) Lookup(name string) ([]*Module, error) {
	alias, err := moddb.NormalizeAlias(name)
	if err != nil {
		return nil, ErrBadAlias
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var mods []*Module
	for i := range p.config.Aliases {
		a := &p.config.Aliases[i]
		if moddb.Match(a.Pattern, alias) {
			mods = append(mods, p.fill(&Module{Name: moddb.Normalize(a.Module), Alias: a.Pattern, Via: a}))
		}
	}
	if len(mods) > 0 {
		return mods, nil
	}
	steps := []func(string) ([]*Module, error){p.byName, p.bySymbol, p.byCommand, p.byAlias, p.byBuiltin, p.byBuiltinAlias}
	for _, step := range steps {
		mods, err := step(alias)
		if err != nil {
			return nil, err
		}
		if len(mods) > 0 {
			return mods, nil
		}
	}
	return nil, nil
}

// LookupName finds a module by its name only: modules.dep, then the
// built-in indexes (kmod_module_new_from_name_lookup).
func (p *Prober) LookupName(name string) (*Module, error) {
	name = moddb.ModuleName(name)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, step := range []func(string) ([]*Module, error){p.byName, p.byBuiltin, p.byBuiltinAlias} {
		mods, err := step(name)
		if err != nil {
			return nil, err
		}
		if len(mods) > 0 {
			return mods[0], nil
		}
	}
	return nil, nil
}

// fill completes a module's path and built-in flag from the indexes.
// p.mu is held.
func (p *Prober) fill(m *Module) *Module {
	if m.Path != "" || m.Builtin {
		return m
	}
	if dm, ok := p.depOf(m.Name); ok {
		m.Path = dm.Path
		return m
	}
	m.Builtin = p.isBuiltinName(m.Name)
	return m
}

func (p *Prober) byName(alias string) ([]*Module, error) {
	if strings.Contains(alias, ":") {
		return nil, nil
	}
	m, ok := p.depOf(alias)
	if !ok {
		return nil, nil
	}
	return []*Module{{Name: alias, Path: m.Path}}, nil
}

func (p *Prober) bySymbol(alias string) ([]*Module, error) {
	sym, ok := strings.CutPrefix(alias, "symbol:")
	if !ok {
		return nil, nil
	}
	names, err := p.search(idxSymbols, alias, func(string) ([]string, error) { return p.db.Symbol(sym) })
	if err != nil {
		return nil, err
	}
	return p.aliased(alias, names), nil
}

func (p *Prober) aliased(alias string, names []string) []*Module {
	var mods []*Module
	for _, n := range names {
		mods = append(mods, p.fill(&Module{Name: moddb.Normalize(n), Alias: alias}))
	}
	return mods
}

func (p *Prober) byCommand(alias string) ([]*Module, error) {
	for i := range p.config.Installs {
		c := &p.config.Installs[i]
		if c.Module == alias {
			return []*Module{p.fill(&Module{Name: moddb.Normalize(alias), Install: c})}, nil
		}
	}
	for i := range p.config.Removes {
		c := &p.config.Removes[i]
		if c.Module == alias {
			return []*Module{p.fill(&Module{Name: moddb.Normalize(alias), Remove: c})}, nil
		}
	}
	return nil, nil
}

func (p *Prober) byAlias(alias string) ([]*Module, error) {
	names, err := p.search(idxAlias, alias, p.db.Alias)
	if err != nil {
		return nil, err
	}
	return p.aliased(alias, names), nil
}

func (p *Prober) byBuiltin(alias string) ([]*Module, error) {
	if !p.isBuiltinName(alias) {
		return nil, nil
	}
	return []*Module{{Name: moddb.Normalize(alias), Builtin: true}}, nil
}

func (p *Prober) byBuiltinAlias(alias string) ([]*Module, error) {
	names, err := p.search(idxBuiltinAlias, alias, p.db.BuiltinAlias)
	if err != nil {
		return nil, err
	}
	mods := p.aliased(alias, names)
	for _, m := range mods {
		m.Builtin = true
	}
	return mods, nil
}

// BuiltinInfo returns the .modinfo strings of a built-in module from
// modules.builtin.modinfo; a module with none wraps moddb.ErrNotFound.
func (p *Prober) BuiltinInfo(name string) (modfile.Info, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.db.BuiltinInfo(name)
}
