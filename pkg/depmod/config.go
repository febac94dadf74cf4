package depmod

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// DefaultConfigPaths are where kmod 30's depmod reads depmod.d files
// from when no -C is given. They are not under the -b base directory.
var DefaultConfigPaths = []string{"/etc/depmod.d", "/run/depmod.d", "/usr/local/lib/depmod.d", "/lib/depmod.d"}

// searchKind is what a "search" entry names.
type searchKind int

const (
	searchPath searchKind = iota
	searchBuiltin
	searchExternal
)

type search struct {
	kind searchKind
	path string // for searchPath: relative to the module directory
}

// config is what the depmod.d files say. Like kmod, each list holds the
// entries in reverse order of appearance (kmod prepends to linked lists),
// which is what its priority rules are written against.
type config struct {
	searches  []search
	overrides []string // "subdir/modname", no extension
	externals []string // absolute directories
	excludes  []string // directory names
}

// loadConfig reads the configuration files under paths as kmod does:
// in a directory, the files ending in .conf that do not start with '.';
// a file of the same name in a later path is ignored; files are read in
// name order. With no "search" line, "updates" is searched first.
func loadConfig(paths []string, kver string, log *logger) *config {
	type file struct{ name, path string }
	var files []file
	add := func(name, path string) {
		i := sort.Search(len(files), func(i int) bool { return files[i].name >= name })
		if i < len(files) && files[i].name == name {
			return
		}
		files = append(files, file{})
		copy(files[i+1:], files[i:])
		files[i] = file{name, path}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if !st.IsDir() {
			add(filepath.Base(p), p)
			continue
		}
		d, err := os.Open(p)
		if err != nil {
			log.errorf("files list %s: %s", p, errText(err))
			continue
		}
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, name := range names {
			if name[0] == '.' {
				continue
			}
			if len(name) < 6 || !strings.HasSuffix(name, ".conf") {
				log.infof("All cfg files need .conf: %s/%s", p, name)
				continue
			}
			if st, err := os.Stat(filepath.Join(p, name)); err == nil && st.IsDir() {
				log.errorf("Directories inside directories are not supported: %s/%s", p, name)
				continue
			}
			add(name, filepath.Join(p, name))
		}
	}
	cfg := &config{}
	for _, f := range files {
		cfg.parse(f.path, kver, log)
	}
	if len(cfg.searches) == 0 {
		cfg.searches = []search{{kind: searchPath, path: "updates"}}
	}
	return cfg
}

func prepend[T any](list []T, v T) []T {
	return append([]T{v}, list...)
}

// kernelMatches reports whether an override or external line's version
// pattern (an extended regular expression, or "*") matches kver.
func kernelMatches(pattern, kver string) bool {
	if pattern == "*" {
		return true
	}
	re, err := regexp.CompilePOSIX(pattern)
	if err != nil {
		return false
	}
	return re.MatchString(kver)
}

// parse reads one configuration file; a line ending in '\' continues on
// the next, as kmod's freadline_wrapped joins them.
func (c *config) parse(path, kver string, log *logger) {
	data, err := os.ReadFile(path)
	if err != nil {
		log.errorf("file parse %s: %s", path, errText(err))
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	lineno := 0
	var pending []byte
	for sc.Scan() {
		lineno++
		line := sc.Bytes()
		if bytes.HasSuffix(line, []byte{'\\'}) {
			pending = append(pending, line[:len(line)-1]...)
			continue
		}
		if pending != nil {
			line = append(pending, line...)
			pending = nil
		}
		c.parseLine(string(line), path, lineno, kver, log)
	}
	if pending != nil {
		c.parseLine(string(pending), path, lineno, kver, log)
	}
}

func (c *config) parseLine(line, path string, lineno int, kver string, log *logger) {
	if line == "" || line[0] == '#' {
		return
	}
	f := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' })
	if len(f) == 0 {
		return
	}
	switch cmd := f[0]; cmd {
	case "search":
		for _, p := range f[1:] {
			s := search{kind: searchPath, path: p}
			switch p {
			case "built-in":
				s = search{kind: searchBuiltin}
			case "external":
				s = search{kind: searchExternal}
			}
			c.searches = prepend(c.searches, s)
		}
	case "override":
		if len(f) < 4 {
			log.errorf("%s:%d: ignoring bad line starting with '%s'", path, lineno, cmd)
			return
		}
		if !kernelMatches(f[2], kver) {
			log.infof("%s:%d: override kernel did not match %s", path, lineno, f[2])
			return
		}
		c.overrides = prepend(c.overrides, f[3]+"/"+f[1])
	case "external":
		if len(f) < 3 {
			log.errorf("%s:%d: ignoring bad line starting with '%s'", path, lineno, cmd)
			return
		}
		if !kernelMatches(f[1], kver) {
			log.infof("%s:%d: external directory did not match %s", path, lineno, f[1])
			return
		}
		c.externals = prepend(c.externals, f[2])
	case "exclude":
		for _, p := range f[1:] {
			c.excludes = prepend(c.excludes, p)
		}
	case "include", "make_map_files":
		log.infof("%s:%d: command %s not implemented yet", path, lineno, cmd)
	default:
		log.errorf("%s:%d: ignoring bad line starting with '%s'", path, lineno, cmd)
	}
}

// excluded reports whether a directory entry is skipped while searching.
func (c *config) excluded(name string) bool {
	if name == "." || name == ".." || name == "build" || name == "source" {
		return true
	}
	for _, e := range c.excludes {
		if name == e {
			return true
		}
	}
	return false
}
