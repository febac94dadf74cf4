package depmod

import (
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"
)

// moduleExts are the file name endings of modules. kmod 30 as Debian
// builds it knows .ko, .ko.xz and .ko.zst; .ko.gz is what kmod built with
// zlib reads too, and it is read here rather than silently left out.
var moduleExts = []string{".ko", ".ko.gz", ".ko.xz", ".ko.zst"}

func isModuleFile(name string) bool {
	for _, e := range moduleExts {
		if len(name) > len(e) && strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// ModuleName is the module name of a file path, as kmod derives it: the
// base name up to its first '.', with '-' made '_'.
func ModuleName(path string) string {
	base := path[strings.LastIndexByte(path, '/')+1:]
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// candidate is one file found for a module name.
type candidate struct {
	path string
	tree int // 0 for the module directory, 1+ for external directories
}

// searchAll finds the modules under the module directory and the external
// directories, and keeps one file per module name.
func (r *run) searchAll() {
	found := map[string][]candidate{}
	if err := r.walk(r.dir, 0, found); err != nil {
		r.log.errorf("could not open directory %s: %s", r.dir, errText(err))
	}
	// kmod walks the externals in its list's order: the reverse of the
	// configuration's, as the list is built by prepending.
	for i, ext := range r.cfg.externals {
		if err := r.walk(ext, i+1, found); err != nil {
			r.log.errorf("could not open directory %s: %s", ext, errText(err))
		}
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		cs := found[name]
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].tree != cs[j].tree {
				return cs[i].tree < cs[j].tree
			}
			return cs[i].path < cs[j].path
		})
		win := cs[0]
		why := ""
		for _, c := range cs[1:] {
			keep, reason := r.higherPriority(win.path, c.path)
			if keep {
				why = fmt.Sprintf("%s over %s: %s", win.path, c.path, reason)
			} else {
				why = fmt.Sprintf("%s over %s: %s", c.path, win.path, reason)
				win = c
			}
			r.log.noticef("%s: %s", name, why)
		}
		m := r.newModule(name, win.path)
		m.Chosen = why
		r.mods[name] = m
	}
}

func (r *run) newModule(name, path string) *Module {
	m := &Module{Name: name, Path: path, RelPath: path}
	if rel, ok := strings.CutPrefix(path, r.dir+"/"); ok {
		m.RelPath = rel
	}
	return m
}

// walk adds the module files under dir (named as kmod names them: dir,
// '/', the names below) to found. Only a failure to read dir itself is
// returned; kmod logs and skips anything wrong further down.
func (r *run) walk(dir string, tree int, found map[string][]candidate) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	r.walkDir(f, dir, tree, found)
	return nil
}

func (r *run) walkDir(f *os.File, dir string, tree int, found map[string][]candidate) {
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		r.log.errorf("readdir %s: %s", dir, errText(err))
	}
	for _, e := range entries {
		name := e.Name()
		if r.cfg.excluded(name) {
			continue
		}
		path := dir + "/" + name
		typ := e.Type()
		if typ&^(fs.ModeDir) != 0 || (!typ.IsRegular() && !typ.IsDir()) {
			st, err := os.Stat(path)
			if err != nil {
				r.log.errorf("fstatat(%s, %s): %s", dir, name, errText(err))
				continue
			}
			typ = st.Mode().Type()
			if !typ.IsRegular() && !typ.IsDir() {
				r.log.errorf("unsupported file type %s: %o", path, modeBits(st.Mode()))
				continue
			}
		}
		if typ.IsDir() {
			sub, err := os.Open(path)
			if err != nil {
				r.log.errorf("openat(%s, %s, O_RDONLY): %s", dir, name, errText(err))
				continue
			}
			r.walkDir(sub, path, tree, found)
			continue
		}
		if !isModuleFile(name) {
			continue
		}
		mn := ModuleName(name)
		if mn == "" {
			r.log.errorf("could not get modname from path %s", path)
			continue
		}
		found[mn] = append(found[mn], candidate{path: path, tree: tree})
	}
}

// modeBits is st_mode & S_IFMT, as kmod prints an unsupported type.
func modeBits(m fs.FileMode) uint32 {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return syscall.S_IFIFO
	case m&fs.ModeSocket != 0:
		return syscall.S_IFSOCK
	case m&fs.ModeCharDevice != 0:
		return syscall.S_IFCHR
	case m&fs.ModeDevice != 0:
		return syscall.S_IFBLK
	case m&fs.ModeSymlink != 0:
		return syscall.S_IFLNK
	}
	return 0
}

// higherPriority reports whether the module file old keeps its place
// against newp, another file of the same module name, by kmod's rules:
// an override line naming either wins; otherwise each gets the number of
// the search entry its directory matches (external directories count
// within "external", unmatched ones take "built-in"'s), and old keeps its
// place unless newp's number is higher.
func (r *run) higherPriority(old, newp string) (bool, string) {
	rel := func(p string) (string, bool) {
		if !strings.HasPrefix(p, r.dir) || len(p) <= len(r.dir) {
			return "", false
		}
		return stripExt(p[len(r.dir)+1:]), true
	}
	relNew, okNew := rel(newp)
	relOld, okOld := rel(old)
	for _, ov := range r.cfg.overrides {
		if okNew && relNew == ov {
			return false, "override " + ov
		}
		if okOld && relOld == ov {
			return true, "override " + ov
		}
	}
	fullNew, fullOld := stripExt(newp), stripExt(old)
	bprio, oldprio, newprio := -1, -1, -1
	i := 0
	for _, se := range r.cfg.searches {
		switch se.kind {
		case searchBuiltin:
			bprio = i
		case searchExternal:
			for _, ext := range r.cfg.externals {
				if under(fullNew, ext) {
					newprio = i
				}
				if under(fullOld, ext) {
					oldprio = i
				}
				i++
			}
		default:
			if okNew && under(relNew, se.path) {
				newprio = i
			} else if okOld && under(relOld, se.path) {
				oldprio = i
			}
		}
		i++
	}
	if newprio < 0 {
		newprio = bprio
	}
	if oldprio < 0 {
		oldprio = bprio
	}
	switch {
	case newprio < oldprio:
		return true, fmt.Sprintf("search priority %d over %d", oldprio, newprio)
	case newprio > oldprio:
		return false, fmt.Sprintf("search priority %d over %d", newprio, oldprio)
	}
	return true, fmt.Sprintf("equal search priority %d, first by path (kmod takes the first file its directory scan finds)", oldprio)
}

// under reports whether path lies strictly below dir.
func under(path, dir string) bool {
	return len(path) > len(dir) && path[len(dir)] == '/' && path[:len(dir)] == dir
}

// stripExt cuts a module path's base name at its first '.'.
func stripExt(p string) string {
	i := strings.LastIndexByte(p, '/') + 1
	if j := strings.IndexByte(p[i:], '.'); j >= 0 {
		return p[:i+j]
	}
	return p
}

// addArgs adds the module files named on the command line.
func (r *run) addArgs() error {
	for _, p := range r.o.Modules {
		if !strings.HasPrefix(p, "/") {
			r.log.fatalf("%s: not absolute path.", p)
			return fmt.Errorf("%s: %w", p, ErrNotAbsolute)
		}
		if _, err := os.Stat(p); err != nil {
			r.log.fatalf("could not create module %s: %s", p, errText(err))
			return fmt.Errorf("%s: %w: %w", p, ErrBadModule, err)
		}
		name := ModuleName(p)
		if _, dup := r.mods[name]; dup {
			r.log.errorf("hash_add_unique %s: %s", name, strerror(syscall.EEXIST))
			r.log.fatalf("could not add module %s: %s", p, strerror(syscall.EEXIST))
			return fmt.Errorf("%s: %w: duplicate module name %s", p, ErrBadModule, name)
		}
		r.mods[name] = r.newModule(name, p)
	}
	return nil
}
