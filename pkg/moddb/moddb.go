package moddb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/gokmod/gokmod/pkg/modfile"
)

// Errors returned by this package.
var (
	// ErrNotFound means no module matches a name, alias or symbol.
	ErrNotFound = errors.New("module not found")
	// ErrBadAlias means an alias is not a valid pattern (an unbalanced
	// bracket), which kmod refuses too.
	ErrBadAlias = errors.New("invalid alias")
	// ErrSyntax means a line of an index file could not be parsed.
	ErrSyntax = errors.New("syntax error")
	// ErrNotRegular means an index file is a directory, FIFO, device or
	// socket; it is refused before it is opened, so a FIFO cannot block.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge means an index file is larger than MaxIndexSize.
	ErrTooLarge = errors.New("index file too large")
)

// MaxIndexSize caps an index file: Debian's largest (modules.alias of
// 6.12) is about 1.4 MB.
const MaxIndexSize = 64 << 20

// readFile reads an index file of the module directory, refusing
// anything but a regular file of at most MaxIndexSize bytes.
func (db *DB) readFile(name string) ([]byte, error) {
	fi, err := fs.Stat(db.fsys, name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w (%s)", ErrNotRegular, fi.Mode().Type())
	}
	if fi.Size() > MaxIndexSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, fi.Size(), MaxIndexSize)
	}
	f, err := db.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxIndexSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxIndexSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, MaxIndexSize)
	}
	return data, nil
}

// DB is the module index of one kernel version.
type DB struct {
	fsys fs.FS
	dir  string

	dep      map[string]depEntry
	depNames []string
	depIndex map[string]int
	depErr   error
	depOK    bool

	aliases  []aliasEntry
	aliasErr error
	aliasOK  bool

	builtin    map[string]bool
	builtinErr error
	builtinOK  bool

	binfo    map[string]modfile.Info
	binfoSeq []aliasEntry // built-in aliases
	binfoErr error
	binfoOK  bool

	symbols []aliasEntry
	symErr  error
	symOK   bool
}

type depEntry struct {
	path string
	deps []string
}

type aliasEntry struct {
	pattern string // normalised
	module  string
}

// Open returns the DB of <root>/lib/modules/<kver>. root "" is "/".
func Open(root, kver string) *DB {
	dir := root + "/lib/modules/" + kver
	return New(os.DirFS(dir), dir)
}

// New returns the DB of the module directory fsys. dir is how that
// directory is named in the paths the DB returns (kmod prints paths from
// modules.dep joined to it).
func New(fsys fs.FS, dir string) *DB {
	return &DB{fsys: fsys, dir: dir}
}

// Dir is the module directory as given to New or Open.
func (db *DB) Dir() string { return db.dir }

// Module is a module file listed in modules.dep.
type Module struct {
	Name string   // the module name: file name without extension, '-' made '_'
	Path string   // the file, joined to the DB's directory unless absolute
	Deps []string // the files it depends on, in modules.dep order
}

// Lookup returns the module called name in modules.dep. name is
// normalised ('-' becomes '_') as kmod does.
func (db *DB) Lookup(name string) (Module, error) {
	if err := db.loadDep(); err != nil {
		return Module{}, err
	}
	name = Normalize(name)
	e, ok := db.dep[name]
	if !ok {
		return Module{}, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	m := Module{Name: name, Path: db.abs(e.path)}
	for _, d := range e.deps {
		m.Deps = append(m.Deps, db.abs(d))
	}
	return m, nil
}

// Names returns the names of the modules of modules.dep, in file order.
func (db *DB) Names() ([]string, error) {
	if err := db.loadDep(); err != nil {
		return nil, err
	}
	return append([]string(nil), db.depNames...), nil
}

func (db *DB) abs(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	return db.dir + "/" + p
}

// ModuleName returns the module name of a file path: its base name up to
// the first '.', with '-' made '_'.
func ModuleName(p string) string {
	base := path.Base(p)
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// Normalize returns a module name with '-' made '_'.
func Normalize(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}

// NormalizeAlias makes '-' '_' outside bracket expressions, as kmod
// (alias_normalize) does before matching; an unbalanced bracket is an
// error wrapping ErrBadAlias.
func NormalizeAlias(alias string) (string, error) {
	b := []byte(alias)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '-':
			b[i] = '_'
		case ']':
			return "", fmt.Errorf("%q: %w", alias, ErrBadAlias)
		case '[':
			j := bytes.IndexByte(b[i:], ']')
			if j < 0 {
				return "", fmt.Errorf("%q: %w", alias, ErrBadAlias)
			}
			i += j
		}
	}
	return string(b), nil
}

func (db *DB) loadDep() error {
	if db.depOK {
		return db.depErr
	}
	db.depOK = true
	db.dep = map[string]depEntry{}
	db.depIndex = map[string]int{}
	db.depErr = db.eachLine("modules.dep", func(line string) error {
		p, rest, ok := strings.Cut(line, ":")
		if !ok {
			return ErrSyntax
		}
		name := ModuleName(p)
		if _, dup := db.dep[name]; dup {
			return nil
		}
		db.dep[name] = depEntry{path: p, deps: strings.Fields(rest)}
		db.depIndex[name] = len(db.depNames)
		db.depNames = append(db.depNames, name)
		return nil
	})
	return db.depErr
}

// eachLine calls fn for each non-empty, non-comment line of file.
func (db *DB) eachLine(file string, fn func(string) error) error {
	data, err := db.readFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := fn(line); err != nil {
			return fmt.Errorf("%s:%d: %w", file, n, err)
		}
	}
	return sc.Err()
}

// loadAliasFile reads "alias PATTERN MODULE" lines.
func (db *DB) loadAliasFile(file string) ([]aliasEntry, error) {
	var out []aliasEntry
	err := db.eachLine(file, func(line string) error {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" {
			return ErrSyntax
		}
		p, err := NormalizeAlias(f[1])
		if err != nil {
			return err
		}
		out = append(out, aliasEntry{pattern: p, module: f[2]})
		return nil
	})
	return out, err
}

// Alias returns the names of the modules whose modules.alias patterns
// match alias, in the order kmod's modules.alias.bin gives them: sorted by
// the module's place in modules.dep (depmod's module order). A module
// matched by two different patterns is listed twice, as kmod does.
func (db *DB) Alias(alias string) ([]string, error) {
	if !db.aliasOK {
		db.aliasOK = true
		db.aliases, db.aliasErr = db.loadAliasFile("modules.alias")
	}
	if db.aliasErr != nil {
		return nil, db.aliasErr
	}
	return db.sortByDep(match(db.aliases, alias))
}

// sortByDep orders module names as depmod numbers them: by their line in
// modules.dep, unknown ones last, ties in match order.
func (db *DB) sortByDep(names []string, err error) ([]string, error) {
	if err != nil || len(names) < 2 {
		return names, err
	}
	if err := db.loadDep(); err != nil {
		return names, nil
	}
	rank := func(n string) int {
		if i, ok := db.depIndex[Normalize(n)]; ok {
			return i
		}
		return len(db.depIndex)
	}
	sort.SliceStable(names, func(i, j int) bool { return rank(names[i]) < rank(names[j]) })
	return names, nil
}

// Symbol returns the modules that export sym, from modules.symbols, in
// depmod's module order.
func (db *DB) Symbol(sym string) ([]string, error) {
	if !db.symOK {
		db.symOK = true
		db.symbols, db.symErr = db.loadAliasFile("modules.symbols")
	}
	if db.symErr != nil {
		return nil, db.symErr
	}
	return db.sortByDep(match(db.symbols, "symbol:"+sym))
}

func match(entries []aliasEntry, alias string) ([]string, error) {
	a, err := NormalizeAlias(alias)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if Match(e.pattern, a) {
			out = append(out, e.module)
		}
	}
	return out, nil
}

// IsBuiltin reports whether modules.builtin lists the module called name.
func (db *DB) IsBuiltin(name string) (bool, error) {
	if !db.builtinOK {
		db.builtinOK = true
		db.builtin = map[string]bool{}
		db.builtinErr = db.eachLine("modules.builtin", func(line string) error {
			db.builtin[ModuleName(line)] = true
			return nil
		})
	}
	if db.builtinErr != nil {
		return false, db.builtinErr
	}
	return db.builtin[Normalize(name)], nil
}

func (db *DB) loadBuiltinInfo() error {
	if db.binfoOK {
		return db.binfoErr
	}
	db.binfoOK = true
	db.binfo = map[string]modfile.Info{}
	data, err := db.readFile("modules.builtin.modinfo")
	if err != nil {
		db.binfoErr = fmt.Errorf("read modules.builtin.modinfo: %w", err)
		return db.binfoErr
	}
	for _, s := range bytes.Split(data, []byte{0}) {
		mod, kv, ok := bytes.Cut(s, []byte("."))
		if !ok || len(mod) == 0 {
			continue
		}
		name := string(mod)
		fields := modfile.ParseInfo(append(kv, 0))
		db.binfo[name] = append(db.binfo[name], fields...)
		for _, f := range fields {
			if f.Key == "alias" {
				if p, err := NormalizeAlias(f.Value); err == nil {
					db.binfoSeq = append(db.binfoSeq, aliasEntry{pattern: p, module: name})
				}
			}
		}
	}
	return nil
}

// BuiltinInfo returns the .modinfo strings of the built-in module name
// from modules.builtin.modinfo; a module with none is an error wrapping
// ErrNotFound.
func (db *DB) BuiltinInfo(name string) (modfile.Info, error) {
	if err := db.loadBuiltinInfo(); err != nil {
		return nil, err
	}
	info, ok := db.binfo[Normalize(name)]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return info, nil
}

// BuiltinAlias returns the built-in modules one of whose alias= strings
// in modules.builtin.modinfo matches alias.
func (db *DB) BuiltinAlias(alias string) ([]string, error) {
	if err := db.loadBuiltinInfo(); err != nil {
		return nil, err
	}
	return match(db.binfoSeq, alias)
}
