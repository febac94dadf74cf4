package sysmod

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Sentinel errors.
var (
	ErrNotLoaded = errors.New("module is not loaded")                 // no /sys/module/NAME and not in /proc/modules
	ErrBuiltin   = errors.New("module is built in")                   // /sys/module/NAME without initstate
	ErrMalformed = errors.New("malformed /proc/modules line")         // a line without the fields it needs
	ErrState     = errors.New("unknown module state")                 // initstate reads something else
	ErrNoUnload  = errors.New("module unloading is not supported")    // no refcnt: CONFIG_MODULE_UNLOAD=n
	ErrHidden    = errors.New("addresses hidden (read them as root)") // /sys/module/NAME/sections reads zeros
	ErrAddress   = errors.New("malformed section address")            // /sys/module/NAME/sections/X is not 0x...
)

// State is a module's initstate.
type State int

// States, as /sys/module/NAME/initstate names them.
const (
	Unknown State = iota
	Live
	Coming
	Going
	Builtin
)

func (s State) String() string {
	switch s {
	case Live:
		return "live"
	case Coming:
		return "coming"
	case Going:
		return "going"
	case Builtin:
		return "builtin"
	}
	return "unknown"
}

// MarshalText writes the state's name, for JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a name MarshalText wrote.
func (s *State) UnmarshalText(b []byte) error {
	for st := Unknown; st <= Builtin; st++ {
		if st.String() == string(b) {
			*s = st
			return nil
		}
	}
	return fmt.Errorf("%w %q", ErrState, b)
}

// Entry is one line of /proc/modules:
// "NAME SIZE REFCNT DEPS STATE ADDRESS [(TAINTS)]".
type Entry struct {
	Name   string
	Size   int64
	Refcnt int      // -1 when the kernel has no module unloading
	Users  []string // the DEPS column: modules using this one
	State  string   // "Live", "Loading", "Unloading"
	Taints string   // the letters between parentheses, "" if none
}

// ParseProcModules parses /proc/modules. Lines with too few fields are an
// error wrapping ErrMalformed.
func ParseProcModules(r io.Reader) (entries []Entry, err error) {
	defer func() {
		if p := recover(); p != nil {
			entries, err = nil, fmt.Errorf("%w: %v", ErrMalformed, p)
		}
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 5 {
			return nil, fmt.Errorf("%w: line %d: %d fields, want at least 5", ErrMalformed, line, len(f))
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: size %q", ErrMalformed, line, f[1])
		}
		refcnt := -1
		if f[2] != "-" {
			n, err := strconv.Atoi(f[2])
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: refcnt %q", ErrMalformed, line, f[2])
			}
			refcnt = n
		}
		e := Entry{Name: f[0], Size: size, Refcnt: refcnt, State: f[4]}
		if f[3] != "-" {
			for _, u := range strings.Split(f[3], ",") {
				if u != "" && u != "[permanent]" {
					e.Users = append(e.Users, u)
				}
			}
		}
		if len(f) > 6 && strings.HasPrefix(f[6], "(") {
			e.Taints = strings.Trim(f[6], "()")
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/modules: %w", err)
	}
	return entries, nil
}

// Module is a loaded module as lsmod shows it.
type Module struct {
	Name    string   `json:"name"`
	Size    int64    `json:"size"`
	Refcnt  int      `json:"refcnt"`
	Holders []string `json:"holders"`
	State   State    `json:"state"`
	Taints  string   `json:"taints,omitempty"`
}

// List returns the loaded modules in /proc/modules order, with size,
// reference count and holders read from /sys/module as kmod reads them.
// A module that disappears while it is being read is skipped.
func List(fsys fs.FS) ([]Module, error) {
	f, err := fsys.Open("proc/modules")
	if err != nil {
		return nil, fmt.Errorf("open /proc/modules: %w", err)
	}
	defer f.Close()
	entries, err := ParseProcModules(f)
	if err != nil {
		return nil, err
	}
	mods := make([]Module, 0, len(entries))
	for _, e := range entries {
		m, err := Get(fsys, e.Name)
		if errors.Is(err, ErrNotLoaded) || errors.Is(err, fs.ErrNotExist) {
			continue // unloaded since /proc/modules was read
		}
		if err != nil {
			return nil, err
		}
		m.Taints = e.Taints
		mods = append(mods, m)
	}
	return mods, nil
}

// Get reads one loaded module from /sys/module/NAME. A module that is not
// loaded (or is built in) gives ErrNotLoaded (or ErrBuiltin).
func Get(fsys fs.FS, name string) (Module, error) {
	st, err := GetState(fsys, name)
	if err != nil {
		return Module{}, err
	}
	if st == Builtin {
		return Module{}, fmt.Errorf("%s: %w", name, ErrBuiltin)
	}
	dir := path.Join("sys/module", name)
	size, err := readInt(fsys, path.Join(dir, "coresize"))
	if err != nil {
		return Module{}, notLoaded(name, err)
	}
	refcnt, err := readInt(fsys, path.Join(dir, "refcnt"))
	if errors.Is(err, fs.ErrNotExist) {
		// No refcnt file: a kernel without CONFIG_MODULE_UNLOAD.
		refcnt, err = 0, nil
		if _, serr := fs.Stat(fsys, dir); serr != nil {
			err = serr
		}
	}
	if err != nil {
		return Module{}, notLoaded(name, err)
	}
	holders, err := Holders(fsys, name)
	if err != nil {
		return Module{}, err
	}
	return Module{Name: name, Size: size, Refcnt: int(refcnt), Holders: holders, State: st}, nil
}

func notLoaded(name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", name, ErrNotLoaded)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Refcnt reads /sys/module/NAME/refcnt. A loaded module without it is on
// a kernel without module unloading: ErrNoUnload.
func Refcnt(fsys fs.FS, name string) (int, error) {
	dir := path.Join("sys/module", name)
	n, err := readInt(fsys, path.Join(dir, "refcnt"))
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := fs.Stat(fsys, dir); serr == nil {
			return 0, fmt.Errorf("%s: %w", name, ErrNoUnload)
		}
	}
	if err != nil {
		return 0, notLoaded(name, err)
	}
	return int(n), nil
}

// GetState reads /sys/module/NAME/initstate. A directory without it is a
// built-in module with parameters (Builtin); no directory is ErrNotLoaded.
func GetState(fsys fs.FS, name string) (State, error) {
	if !ValidName(name) {
		return Unknown, fmt.Errorf("%q: %w", name, ErrNotLoaded)
	}
	dir := path.Join("sys/module", name)
	b, err := fs.ReadFile(fsys, path.Join(dir, "initstate"))
	if errors.Is(err, fs.ErrNotExist) {
		if fi, serr := fs.Stat(fsys, dir); serr == nil && fi.IsDir() {
			return Builtin, nil
		}
		return Unknown, fmt.Errorf("%s: %w", name, ErrNotLoaded)
	}
	if err != nil {
		return Unknown, fmt.Errorf("%s: read initstate: %w", name, err)
	}
	switch string(bytes.TrimSpace(b)) {
	case "live":
		return Live, nil
	case "coming":
		return Coming, nil
	case "going":
		return Going, nil
	}
	return Unknown, fmt.Errorf("%s: %w %q", name, ErrState, bytes.TrimSpace(b))
}

// Holders lists /sys/module/NAME/holders in directory order, the order
// kmod prints them in.
func Holders(fsys fs.FS, name string) ([]string, error) {
	dir := path.Join("sys/module", name, "holders")
	f, err := fsys.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: open holders: %w", name, err)
	}
	defer f.Close()
	var ents []fs.DirEntry
	if d, ok := f.(fs.ReadDirFile); ok {
		ents, err = d.ReadDir(-1) // unsorted, unlike fs.ReadDir
	} else {
		ents, err = fs.ReadDir(fsys, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read holders: %w", name, err)
	}
	var holders []string
	for _, e := range ents {
		holders = append(holders, e.Name())
	}
	return holders, nil
}

// Params reads /sys/module/NAME/parameters: each readable parameter's
// value without the trailing newline. Parameters the caller may not read
// (mode 0200, or 0 which has no file at all) are left out.
func Params(fsys fs.FS, name string) (map[string]string, error) {
	dir := path.Join("sys/module", name, "parameters")
	ents, err := fs.ReadDir(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := fs.Stat(fsys, path.Join("sys/module", name)); serr != nil {
			return nil, fmt.Errorf("%s: %w", name, ErrNotLoaded)
		}
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: read parameters: %w", name, err)
	}
	params := make(map[string]string, len(ents))
	for _, e := range ents {
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		params[e.Name()] = strings.TrimSuffix(string(b), "\n")
	}
	return params, nil
}

// Taint reads /sys/module/NAME/taint: the taint letters the module set
// ("OE" for an out-of-tree unsigned module), "" for none.
func Taint(fsys fs.FS, name string) (string, error) {
	b, err := fs.ReadFile(fsys, path.Join("sys/module", name, "taint"))
	if err != nil {
		return "", notLoaded(name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Compression reads /sys/module/compression: the format the kernel can
// decompress modules in ("xz", "zstd", "gzip"), or "" when it cannot.
func Compression(fsys fs.FS) string {
	b, err := fs.ReadFile(fsys, "sys/module/compression")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ValidName reports whether name can be a module name: not empty, no
// path separator, not "." or "..".
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

func readInt(fsys fs.FS, p string) (int64, error) {
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s: %w", p, err)
	}
	return n, nil
}
