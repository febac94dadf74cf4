package depmod

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Options is what one depmod run is told: kmod 30's command-line options,
// kmod 31's -o, and the test seams.
type Options struct {
	BaseDir     string   // -b: the tree holding lib/modules/<KVer>; "" is /
	OutDir      string   // -o: where lib/modules/<KVer> is written; "" is BaseDir
	KVer        string   // the kernel version (the command passes uname -r when none is given)
	ConfigPaths []string // -C; nil means DefaultConfigPaths
	Symvers     string   // -E: Module.symvers, checks symbol versions
	SystemMap   string   // -F: System.map
	SymPrefix   byte     // -P: the architecture's symbol prefix, 0 for none
	ErrSyms     bool     // -e: warn about unresolved symbols
	WarnDups    bool     // -w: warn about duplicate index entries
	// Summary collects the -e warnings in Result.Warnings instead of
	// logging one line per symbol.
	Summary bool
	Verbose int      // the number of -v
	Modules []string // module files given as arguments; none means all
	Workers int      // goroutines decoding modules; 0 means GOMAXPROCS (at most 8)
	// Log receives kmod's messages, without the "depmod: LEVEL: "
	// prefix, in the order kmod prints them.
	Log func(Level, string)
	// Show receives the lines kmod's depmod -v prints on standard
	// output ("PATH needs "SYM": PATH").
	Show io.Writer

	// DryRun renders the text files only (-n): no binary index, and
	// modules.builtin is not read.
	DryRun bool
}

// Dir is the module directory <BaseDir>/lib/modules/<KVer>.
func (o *Options) Dir() string { return o.BaseDir + "/lib/modules/" + o.KVer }

// OutputDir is where the indexes go: <OutDir>/lib/modules/<KVer>.
func (o *Options) OutputDir() string {
	if o.OutDir != "" {
		return o.OutDir + "/lib/modules/" + o.KVer
	}
	return o.Dir()
}

// IsVersion reports whether s starts as a kernel version does ("%u.%u"),
// the test kmod applies to its version argument.
func IsVersion(s string) bool {
	a, b, ok := strings.Cut(s, ".")
	if !ok || !leadingUint(a, true) || !leadingUint(b, false) {
		return false
	}
	return true
}

// leadingUint reports whether s is (whole) or starts with (prefix) an
// unsigned decimal number as sscanf's %u reads it.
func leadingUint(s string, whole bool) bool {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	s = strings.TrimPrefix(s, "+")
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n > 0 && (!whole || n == len(s))
}

// Module is one module file in the index.
type Module struct {
	Name     string   // the module name ('-' made '_')
	Path     string   // the file
	RelPath  string   // its path in modules.dep: relative to Dir, or absolute outside it
	Deps     []string // RelPaths of every module it needs, directly or not, in load order
	Aliases  []string // its alias= strings
	Softdeps []string // its softdep= strings
	Exports  []string // the symbols it owns in modules.symbols
	// Chosen says, for a module name more than one file has, why this
	// file won; empty otherwise.
	Chosen string

	idx      int
	sortIdx  int
	dec      decoded
	deps     []*Module // direct, in first-use order
	users    int
	depOrder int
	visited  bool
}

// Unresolved is a warning -e gives about one symbol of one module.
type Unresolved struct {
	Module   string // the module's path
	Symbol   string
	Mismatch bool // its version (CRC) disagrees with the one exported
}

// Result is a depmod run's outcome before anything is written.
type Result struct {
	Dir      string    // the module directory read
	OutDir   string    // where Write puts the files
	Modules  []*Module // in index order (modules.order first)
	Files    []File    // in the order kmod writes them
	Warnings []Unresolved
}

// File is one index file's name and contents.
type File struct {
	Name string
	Data []byte
	// Text is set for the files depmod -n prints.
	Text bool
}

type symbol struct {
	owner *Module
	crc   uint64
}

type run struct {
	o    *Options
	log  *logger
	dir  string
	cfg  *config
	mods map[string]*Module
	syms map[string]*symbol
	// pending are the -e warnings, in kmod's order.
	pending []Unresolved
}

// Build reads the module tree and renders every index in memory.
func Build(o Options) (*Result, error) {
	if o.KVer == "" {
		return nil, fmt.Errorf("no kernel version: %w", ErrVersion)
	}
	r := &run{o: &o, log: &logger{fn: o.Log, verbose: o.Verbose}, dir: o.Dir(),
		mods: map[string]*Module{}, syms: map[string]*symbol{}}
	var err error
	switch {
	case o.Symvers != "":
		err = r.loadSymvers(o.Symvers)
	case o.SystemMap != "":
		err = r.loadSystemMap(o.SystemMap)
	case o.ErrSyms:
		r.log.warnf("-e needs -E or -F")
		o.ErrSyms = false
	}
	if err != nil {
		return nil, err
	}
	if len(o.Modules) == 0 {
		paths := o.ConfigPaths
		if paths == nil {
			paths = DefaultConfigPaths
		}
		r.cfg = loadConfig(paths, o.KVer, r.log)
		if err := r.searchAll(); err != nil {
			return nil, err
		}
	} else if err := r.addArgs(); err != nil {
		return nil, err
	}
	mods := r.order()
	r.decodeAll(mods)
	if err := r.resolve(mods); err != nil {
		return nil, err
	}
	res := &Result{Dir: r.dir, OutDir: o.OutputDir(), Modules: mods, Warnings: r.pending}
	res.Files = r.render(mods)
	return res, nil
}

// addSymbol records a symbol as kmod's hash_add does: a later one of the
// same name replaces the earlier.
func (r *run) addSymbol(name string, prefixSkipped bool, crc uint64, owner *Module) {
	if !prefixSkipped && name != "" && r.o.SymPrefix != 0 && name[0] == r.o.SymPrefix {
		name = name[1:]
	}
	r.syms[name] = &symbol{owner: owner, crc: crc}
}

func (r *run) findSymbol(name string) *symbol {
	name = strings.TrimPrefix(name, ".")
	if name != "" && r.o.SymPrefix != 0 && name[0] == r.o.SymPrefix {
		name = name[1:]
	}
	return r.syms[name]
}

func (r *run) addFakeSymbols() {
	r.addSymbol("__this_module", true, 0, nil)
	r.addSymbol("_GLOBAL_OFFSET_TABLE_", true, 0, nil)
	if r.findSymbol("TOC.") == nil {
		r.addSymbol("TOC.", true, 0, nil)
	}
}

// loadSymvers reads the vmlinux lines of a Module.symvers.
func (r *run) loadSymvers(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		r.log.fatalf("could not load %s: %s", path, errText(err))
		return fmt.Errorf("%s: %w: %w", path, ErrSymbols, err)
	}
	for n, line := range splitLines(data) {
		f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
		if len(f) < 3 || f[2] != "vmlinux" {
			continue
		}
		crc, ok := parseHex(f[0])
		if !ok {
			// kmod prints %m here, the errno an earlier call left
			// behind: after libkmod's start-up that is ENOENT.
			r.log.errorf("%s:%d Invalid symbol version %s: %s", path, n+1, f[0], strerror(syscall.ENOENT))
			continue
		}
		r.addSymbol(f[1], false, crc, nil)
	}
	r.addFakeSymbols()
	return nil
}

// parseHex reads a CRC as strtoull(s, &end, 16) with *end == 0 does.
func parseHex(s string) (uint64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		t = t[2:]
	}
	v, err := strconv.ParseUint(t, 16, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// splitLines splits a file into lines without their '\n' (and, as
// strtok on " \t" leaves it, with a '\r' kept).
func splitLines(data []byte) []string {
	s := string(data)
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// loadSystemMap reads the __ksymtab_ symbols of a System.map.
func (r *run) loadSystemMap(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		r.log.fatalf("could not load %s: %s", path, errText(err))
		return fmt.Errorf("%s: %w: %w", path, ErrSymbols, err)
	}
	for n, line := range splitLines(data) {
		_, rest, ok := strings.Cut(line, " ")
		if ok {
			_, rest, ok = strings.Cut(rest, " ")
		}
		if !ok {
			r.log.errorf("%s:%d: invalid line: %s\n", path, n+1, line)
			continue
		}
		if rest != "" && r.o.SymPrefix != 0 && rest[0] == r.o.SymPrefix {
			rest = rest[1:]
		}
		name, ok := strings.CutPrefix(rest, "__ksymtab_")
		if !ok {
			continue
		}
		r.addSymbol(name, true, 0, nil)
	}
	r.addFakeSymbols()
	return nil
}

// order numbers the modules as kmod does: those modules.order lists in
// its order, then the others in kmod's hash order.
func (r *run) order() []*Module {
	names := make([]string, 0, len(r.mods))
	for n := range r.mods {
		names = append(names, n)
	}
	kmodOrder(names, moduleBuckets)
	mods := make([]*Module, len(names))
	byUnc := make(map[string]*Module, len(names))
	for i, n := range names {
		m := r.mods[n]
		m.sortIdx = 1
		mods[i] = m
		if m.RelPath != "" && !filepath.IsAbs(m.RelPath) {
			byUnc[uncompressedPath(m.RelPath)] = m
		}
	}
	data, err := os.ReadFile(filepath.Join(r.dir, "modules.order"))
	if err != nil {
		r.log.warnf("could not open modules.order at %s: %s", r.dir, errText(err))
	} else if lines, ok := orderLines(data); !ok {
		r.log.errorf("%s/%s:%d corrupted line misses '\\n'", r.dir, "modules.order", len(lines))
	} else {
		total := len(lines) + 1
		for i, line := range lines {
			if m := byUnc[line]; m != nil {
				m.sortIdx = i + 1 - total
			}
		}
		sort.SliceStable(mods, func(i, j int) bool { return mods[i].sortIdx < mods[j].sortIdx })
	}
	for i, m := range mods {
		m.idx = i
	}
	return mods
}

// orderLines splits modules.order; ok is false when the last line lacks
// its newline, which makes kmod ignore the file.
func orderLines(data []byte) (lines []string, ok bool) {
	if len(data) == 0 {
		return nil, true
	}
	s := string(data)
	ok = strings.HasSuffix(s, "\n")
	lines = strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines, ok
}

// uncompressedPath is a relative path with the extension made ".ko": the
// directory, the base name up to its first '.', then ".ko".
func uncompressedPath(rel string) string {
	dir, base := "", rel
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		dir, base = rel[:i+1], rel[i+1:]
	}
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return dir + base + ".ko"
}

// decodeAll reads every module on a bounded number of goroutines. Each
// result lands in its module, so the order of completion does not
// matter.
func (r *run) decodeAll(mods []*Module) {
	workers := r.o.Workers
	if workers <= 0 {
		workers = min(runtime.GOMAXPROCS(0), 8)
	}
	workers = min(workers, max(len(mods), 1))
	var wg sync.WaitGroup
	next := make(chan *Module)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var s scratch
			for m := range next {
				m.dec = decode(m.Path, &s)
			}
		}()
	}
	for _, m := range mods {
		next <- m
	}
	close(next)
	wg.Wait()
}

// resolve finds every module's dependencies and sorts them as kmod does.
func (r *run) resolve(mods []*Module) error {
	for _, m := range mods {
		if err := m.dec.symErr; err != nil && !isENOENT(err) {
			r.log.errorf("failed to load symbols from %s: %s", m.Path, errText(err))
		}
		for _, e := range m.dec.exports {
			r.addSymbol(e.name, false, e.crc, m)
		}
		m.Aliases = m.dec.aliases
		m.Softdeps = m.dec.softdeps
	}
	for _, m := range mods {
		for _, n := range m.dec.needs {
			s := r.findSymbol(n.name)
			if s == nil {
				if r.o.ErrSyms && !n.weak {
					r.warnUnresolved(Unresolved{Module: m.Path, Symbol: n.name})
				}
				continue
			}
			if r.o.Symvers != "" && s.crc != n.crc && !n.weak && r.o.ErrSyms {
				r.warnUnresolved(Unresolved{Module: m.Path, Symbol: n.name, Mismatch: true})
			}
			if s.owner == nil || containsMod(m.deps, s.owner) {
				continue
			}
			m.deps = append(m.deps, s.owner)
			s.owner.users++
			if r.o.Show != nil && r.o.Verbose > 0 {
				fmt.Fprintf(r.o.Show, "%s needs \"%s\": %s\n", m.Path, n.name, s.owner.Path)
			}
		}
	}
	if err := r.topoSort(mods); err != nil {
		return err
	}
	for _, m := range mods {
		for _, d := range allDeps(m) {
			m.Deps = append(m.Deps, d.RelPath)
		}
	}
	return nil
}

func isENOENT(err error) bool {
	e, ok := err.(syscall.Errno)
	return ok && e == syscall.ENOENT
}

func containsMod(list []*Module, m *Module) bool {
	for _, x := range list {
		if x == m {
			return true
		}
	}
	return false
}

// warnUnresolved logs an -e warning as kmod does, or keeps it for the
// summary.
func (r *run) warnUnresolved(u Unresolved) {
	r.pending = append(r.pending, u)
	if r.o.Summary {
		return
	}
	if u.Mismatch {
		r.log.warnf("%s disagrees about version of symbol %s", u.Module, u.Symbol)
	} else {
		r.log.warnf("%s needs unknown symbol %s", u.Module, u.Symbol)
	}
}

// topoSort numbers modules so that a module comes after every module
// that uses it (Kahn's algorithm with a stack, as kmod runs it), then
// sorts each module's direct dependencies by that number.
func (r *run) topoSort(mods []*Module) error {
	users := make([]int, len(mods))
	var stack []int
	for i, m := range mods {
		users[i] = m.users
		if users[i] == 0 {
			stack = append(stack, i)
		}
	}
	n := 0
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		src := mods[i]
		src.depOrder = n
		n++
		for _, d := range src.deps {
			users[d.idx]--
			if users[d.idx] == 0 {
				stack = append(stack, d.idx)
			}
		}
	}
	if n < len(mods) {
		r.reportCycles(mods, users)
		return ErrCycle
	}
	for _, m := range mods {
		sort.Slice(m.deps, func(i, j int) bool { return m.deps[i].depOrder < m.deps[j].depOrder })
	}
	return nil
}

// allDeps returns every module m needs, directly or not, by load order.
func allDeps(m *Module) []*Module {
	seen := map[*Module]bool{}
	var out []*Module
	var walk func(*Module)
	walk = func(x *Module) {
		for _, d := range x.deps {
			if seen[d] {
				continue
			}
			seen[d] = true
			out = append(out, d)
			walk(d)
		}
	}
	walk(m)
	sort.Slice(out, func(i, j int) bool { return out[i].depOrder < out[j].depOrder })
	return out
}

const maxCycleSteps = 1 << 20

// reportCycles prints the cycles among the modules the sort could not
// place, as kmod's depmod_report_cycles does.
func (r *run) reportCycles(mods []*Module, users []int) {
	var roots []*Module
	for i, m := range mods {
		if users[i] > 0 {
			roots = append(roots, m)
		}
	}
	remove := func(m *Module) {
		for i, x := range roots {
			if x == m {
				roots = append(roots[:i], roots[i+1:]...)
				return
			}
		}
	}
	type vertex struct {
		parent *vertex
		mod    *Module
	}
	inLoop := map[string]bool{}
	// kmod's walk can run forever on a cycle that does not pass through
	// its root; bound it.
	steps := 0
	for len(roots) > 0 && steps < maxCycleSteps {
		root := roots[0]
		roots = roots[1:]
		stack := []*vertex{{mod: root}}
		for len(stack) > 0 && steps < maxCycleSteps {
			steps++
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			m := v.mod
			if m.visited && m == root {
				var names []string
				for p := v.parent; p != nil; p = p.parent {
					inLoop[p.mod.Name] = true
					names = append([]string{p.mod.Name}, names...)
					remove(p.mod)
				}
				r.log.errorf("Cycle detected: %s", strings.Join(append(names, m.Name), " -> "))
				continue
			}
			m.visited = true
			if len(m.deps) == 0 {
				remove(m)
				continue
			}
			for _, d := range m.deps {
				stack = append(stack, &vertex{parent: v, mod: d})
			}
		}
	}
	r.log.errorf("Found %d modules in dependency cycles!", len(inLoop))
}
