package modprobe

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Errors returned by this package.
var (
	// ErrNotFound means no module matches a name or alias.
	ErrNotFound = errors.New("module not found")
	// ErrBadAlias means a name is not a valid alias pattern.
	ErrBadAlias = errors.New("invalid alias")
	// ErrAlreadyLoaded means a module was loaded already (--first-time).
	ErrAlreadyLoaded = errors.New("module already in kernel")
	// ErrNotLoaded means a module to remove is not loaded (--first-time).
	ErrNotLoaded = errors.New("module is not in kernel")
	// ErrBuiltin means a module to remove is built into the kernel.
	ErrBuiltin = errors.New("module is builtin")
	// ErrInUse means a module to remove is in use.
	ErrInUse = errors.New("module is in use")
	// ErrCommand means an install or remove command failed.
	ErrCommand = errors.New("command failed")
	// ErrNoFile means a module has no file to load (not in modules.dep).
	ErrNoFile = errors.New("module has no file")
)

// DefaultConfigPaths are the directories kmod 30 reads modprobe.d files
// from, in order of precedence: a file name in an earlier directory hides
// the same name in a later one.
var DefaultConfigPaths = []string{
	"/etc/modprobe.d",
	"/run/modprobe.d",
	"/usr/local/lib/modprobe.d",
	"/lib/modprobe.d",
}

// Source is where a configuration entry was read: a file and its line
// (the last physical line of a continued one), or the kernel command line.
type Source struct {
	File string
	Line int
}

func (s Source) String() string {
	if s.Line == 0 {
		return s.File
	}
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

// Alias is "alias PATTERN MODULE".
type Alias struct {
	Pattern, Module string
	Source          Source
}

// Option is "options MODULE PARAMS" or MODULE.PARAM=VALUE on the kernel
// command line.
type Option struct {
	Module, Options string
	Source          Source
}

// Command is "install PATTERN COMMAND" or "remove PATTERN COMMAND".
type Command struct {
	Module, Command string
	Source          Source
}

// Blacklist is "blacklist MODULE" or an entry of modprobe.blacklist=.
type Blacklist struct {
	Module string
	Source Source
}

// Softdep is "softdep PATTERN pre: A B post: C D".
type Softdep struct {
	Module    string
	Pre, Post []string
	Source    Source
}

// String is the entry's value as modprobe -c prints it, kmod's quirk
// included: no space between the last pre: name and "post:".
func (s Softdep) String() string {
	var b strings.Builder
	if len(s.Pre) > 0 {
		b.WriteString("pre: ")
		b.WriteString(strings.Join(s.Pre, " "))
	}
	if len(s.Post) > 0 {
		b.WriteString("post: ")
		b.WriteString(strings.Join(s.Post, " "))
	}
	return b.String()
}

// DiagKind says what a Diagnostic is about.
type DiagKind int

// The diagnostics kmod's configuration reader prints.
const (
	BadLine    DiagKind = iota + 1 // a line kmod ignores
	Deprecated                     // "include" or "config"
	NestedDir                      // a directory inside a config directory
	BadCmdline                     // a kernel command line option with a bad module name
)

// Diagnostic is a problem found while reading the configuration. Its
// Error text is kmod's message.
type Diagnostic struct {
	Kind   DiagKind
	Source Source
	Word   string // the directive of a bad or deprecated line, the entry of a nested directory, the module of a bad option
}

func (d Diagnostic) Error() string {
	switch d.Kind {
	case BadLine:
		return fmt.Sprintf("%s line %d: ignoring bad line starting with '%s'", d.Source.File, d.Source.Line, d.Word)
	case Deprecated:
		return fmt.Sprintf("%s: command %s is deprecated and not parsed anymore", d.Source.File, d.Word)
	case NestedDir:
		return fmt.Sprintf("Directories inside directories are not supported: %s/%s", d.Source.File, d.Word)
	case BadCmdline:
		return fmt.Sprintf("Ignoring bad option on kernel command line while parsing module name: '%s'", d.Word)
	}
	return "unknown diagnostic"
}

// Config is what modprobe.d files and the kernel command line say, each
// list in the order kmod keeps it.
type Config struct {
	Aliases    []Alias
	Blacklists []Blacklist
	Options    []Option
	Installs   []Command
	Removes    []Command
	Softdeps   []Softdep
	Files      []string     // the files read, in order
	Diags      []Diagnostic // problems, in the order kmod reports them
}

// ConfigFiles lists the configuration files kmod reads from paths, in
// the order it reads them: every *.conf and *.alias file (not hidden) of
// each directory, or a path that is a file, sorted by base name, a name
// seen in an earlier path hiding later ones. moddir's modules.softdep,
// if given, takes part under its own name. Nested directories are
// reported as diagnostics.
func ConfigFiles(fsys fs.FS, moddir string, paths []string) (files []string, diags []Diagnostic) {
	type entry struct{ name, path string }
	var list []entry
	seen := map[string]bool{}
	add := func(name, p string) {
		if seen[name] {
			return
		}
		seen[name] = true
		list = append(list, entry{name, p})
	}
	if moddir != "" {
		add("modules.softdep", moddir+"/modules.softdep")
	}
	for _, p := range paths {
		st, err := statPath(fsys, p)
		if err != nil {
			continue
		}
		if !st.IsDir() {
			add(path.Base(p), p)
			continue
		}
		ents, err := readDir(fsys, p)
		if err != nil {
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if n[0] == '.' || len(n) < 6 || (!strings.HasSuffix(n, ".conf") && !strings.HasSuffix(n, ".alias")) {
				continue
			}
			if fi, err := statPath(fsys, p+"/"+n); err == nil && fi.IsDir() {
				diags = append(diags, Diagnostic{Kind: NestedDir, Source: Source{File: p}, Word: n})
				continue
			}
			add(n, p+"/"+n)
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].name < list[j].name })
	for _, e := range list {
		files = append(files, e.path)
	}
	return files, diags
}

// rel makes an absolute path one an fs.FS rooted at "/" takes.
func rel(p string) string {
	p = strings.TrimLeft(path.Clean(p), "/")
	if p == "" {
		return "."
	}
	return p
}

// LoadConfig reads the configuration as kmod does: the files of
// ConfigFiles, then the kernel command line cmdline (nil for none). fsys
// is the file system the paths are in (os.DirFS("/") for the running
// system, where relative paths are taken from the working directory) or
// nil for the operating system's files.
func LoadConfig(fsys fs.FS, moddir string, paths []string, cmdline []byte) *Config {
	c := &Config{}
	files, diags := ConfigFiles(fsys, moddir, paths)
	c.Diags = diags
	for _, f := range files {
		data, err := readConfigFile(fsys, f)
		if err != nil {
			continue
		}
		c.Files = append(c.Files, f)
		c.Parse(bytes.NewReader(data), f)
	}
	if cmdline != nil {
		c.ParseCmdline(cmdline)
	}
	return c
}

// The file helpers use the operating system when fsys is nil (paths as
// given, relative ones from the working directory) and fsys otherwise.
func readConfigFile(fsys fs.FS, p string) ([]byte, error) {
	if fsys == nil {
		return os.ReadFile(p)
	}
	return fs.ReadFile(fsys, rel(p))
}

func statPath(fsys fs.FS, p string) (fs.FileInfo, error) {
	if fsys == nil {
		return os.Stat(p)
	}
	return fs.Stat(fsys, rel(p))
}

func readDir(fsys fs.FS, p string) ([]fs.DirEntry, error) {
	if fsys == nil {
		return os.ReadDir(p)
	}
	return fs.ReadDir(fsys, rel(p))
}

// readLine returns the next logical line of data as kmod's
// freadline_wrapped does: a backslash before a newline joins lines, a
// backslash before anything else is dropped. n is how many physical
// lines it took; ok is false at the end.
func readLine(data []byte) (line []byte, rest []byte, n int, ok bool) {
	if len(data) == 0 {
		return nil, nil, 0, false
	}
	var buf []byte
	for i := 0; ; i++ {
		if i == len(data) {
			return buf, nil, n + 1, true
		}
		switch c := data[i]; c {
		case '\n':
			return buf, data[i+1:], n + 1, true
		case '\\':
			if i+1 == len(data) {
				// getc returned EOF, stored as the byte 0xff.
				buf = append(buf, 0xff)
				continue
			}
			i++
			if data[i] == '\n' {
				n++
				continue
			}
			buf = append(buf, data[i])
		default:
			buf = append(buf, c)
		}
	}
}

// cString cuts b at its first NUL, as C string functions see it.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// tokenizer is strtok_r over one line.
type tokenizer struct {
	s   string
	pos int
}

// next returns the next token separated by any of delims; with delims ""
// it returns the rest of the line (nil at its end).
func (t *tokenizer) next(delims string) (string, bool) {
	s := t.s
	i := t.pos
	for i < len(s) && strings.IndexByte(delims, s[i]) >= 0 {
		i++
	}
	if i >= len(s) {
		t.pos = len(s)
		return "", false
	}
	j := i
	for j < len(s) && strings.IndexByte(delims, s[j]) < 0 {
		j++
	}
	if j < len(s) {
		t.pos = j + 1
	} else {
		t.pos = j
	}
	return s[i:j], true
}

// underscores is kmod's underscores(): '-' becomes '_' outside bracket
// expressions; a missing word or unbalanced bracket is an error.
func underscores(s string, ok bool) (string, bool) {
	if !ok {
		return "", false
	}
	b := []byte(s)
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '-':
			b[i] = '_'
		case ']':
			return "", false
		case '[':
			j := bytes.IndexByte(b[i:], ']')
			if j < 0 {
				return "", false
			}
			i += j
		}
	}
	return string(b), true
}

// Parse reads one modprobe.d file as kmod_config_parse does, adding its
// entries to c; name is how its lines are named in Sources and
// diagnostics. Bad lines become diagnostics; nothing is fatal.
func (c *Config) Parse(r io.Reader, name string) {
	data, err := io.ReadAll(r)
	if err != nil {
		return
	}
	defer func() {
		if v := recover(); v != nil {
			c.Diags = append(c.Diags, Diagnostic{Kind: BadLine, Source: Source{File: name}, Word: fmt.Sprint(v)})
		}
	}()
	lineno := 0
	for {
		raw, rest, n, ok := readLine(data)
		if !ok {
			break
		}
		data = rest
		lineno += n
		c.parseLine(cString(raw), Source{File: name, Line: lineno})
	}
}

func (c *Config) parseLine(line string, src Source) {
	if line == "" || line[0] == '#' {
		return
	}
	t := &tokenizer{s: line}
	cmd, ok := t.next("\t ")
	if !ok {
		return
	}
	bad := func() {
		c.Diags = append(c.Diags, Diagnostic{Kind: BadLine, Source: src, Word: cmd})
	}
	switch cmd {
	case "alias":
		alias, ok1 := underscores(t.next("\t "))
		mod, ok2 := underscores(t.next("\t "))
		if !ok1 || !ok2 {
			bad()
			return
		}
		c.Aliases = append(c.Aliases, Alias{Pattern: alias, Module: mod, Source: src})
	case "blacklist":
		mod, ok := underscores(t.next("\t "))
		if !ok {
			bad()
			return
		}
		c.Blacklists = append(c.Blacklists, Blacklist{Module: mod, Source: src})
	case "options", "install", "remove", "softdep":
		mod, ok1 := underscores(t.next("\t "))
		rest, ok2 := t.next("")
		if !ok1 || !ok2 {
			bad()
			return
		}
		switch cmd {
		case "options":
			c.Options = append(c.Options, Option{Module: mod, Options: strings.ReplaceAll(rest, "\t", " "), Source: src})
		case "install":
			c.Installs = append(c.Installs, Command{Module: mod, Command: rest, Source: src})
		case "remove":
			c.Removes = append(c.Removes, Command{Module: mod, Command: rest, Source: src})
		default:
			pre, post := parseSoftdep(rest)
			c.Softdeps = append(c.Softdeps, Softdep{Module: mod, Pre: pre, Post: post, Source: src})
		}
	case "include", "config":
		c.Diags = append(c.Diags, Diagnostic{Kind: Deprecated, Source: Source{File: src.File}, Word: cmd})
	default:
		bad()
	}
}

// isSpace is C's isspace.
func isSpace(b byte) bool {
	return b == ' ' || (b >= '\t' && b <= '\r')
}

// parseSoftdep splits "pre: a b post: c" into its lists; names before
// any "pre:" or "post:" are dropped, as kmod drops them.
func parseSoftdep(s string) (pre, post []string) {
	mode := 0
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r < 0x80 && isSpace(byte(r)) }) {
		switch {
		case w == "pre:":
			mode = 1
		case w == "post:":
			mode = 2
		case mode == 1:
			pre = append(pre, w)
		case mode == 2:
			post = append(post, w)
		}
	}
	return pre, post
}

// cmdlineSource names entries from the kernel command line.
var cmdlineSource = Source{File: "/proc/cmdline"}

// ParseCmdline adds the module options of a kernel command line
// (MODULE.PARAM[=VALUE]) and its modprobe.blacklist=A,B entries to c, as
// kmod_config_parse_kcmdline does, quotes included.
func (c *Config) ParseCmdline(cmdline []byte) {
	const (
		stIgnore = iota
		stModname
		stParam
		stValue
		stComplete
	)
	buf := append([]byte(nil), cmdline...)
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	if len(buf) > 4095 {
		buf = buf[:4095]
	}
	buf = append(buf, 0)
	state := stModname
	quoted := false
	quoteStart := -1
	modname, param, value := 0, -1, -1
	for p := 0; p < len(buf); p++ {
		switch buf[p] {
		case '"':
			quoted = !quoted
			if quoted && state == stModname && p == modname {
				quoteStart = p
				modname = p + 1
			} else if state != stValue {
				state = stIgnore
			}
		case 0, ' ', '\n', '\t', '\v', '\f', '\r':
			switch {
			case quoted && state == stValue:
			case quoted:
				state = stIgnore
			case state == stValue || state == stParam:
				buf[p] = 0
				state = stComplete
			default:
				modname = p + 1
				state = stModname
				quoteStart = -1
			}
		case '.':
			if state == stModname {
				buf[p] = 0
				param = p + 1
				state = stParam
			} else if state == stParam {
				state = stIgnore
			}
		case '=':
			if state == stParam {
				value = p + 1
				state = stValue
			} else if state == stModname {
				state = stIgnore
			}
		}
		if state == stComplete {
			if quoteStart >= 0 && quoteStart < modname && value >= 0 {
				// Move the quote from before the module name to
				// before the value, as grub mangles it.
				copy(buf[quoteStart:], buf[modname:value])
				value--
				modname--
				param--
				buf[value] = '"'
			}
			c.cmdlineResult(cString(buf[modname:]), cString(buf[param:]), valueOf(buf, value))
			modname = p + 1
			state = stModname
			quoteStart = -1
			param, value = -1, -1
		}
	}
}

func valueOf(buf []byte, value int) string {
	if value < 0 {
		return ""
	}
	return cString(buf[value:])
}

func (c *Config) cmdlineResult(modname, param, value string) {
	if modname == "modprobe" && strings.HasPrefix(param, "blacklist=") {
		for _, t := range strings.Split(value, ",") {
			c.Blacklists = append(c.Blacklists, Blacklist{Module: t, Source: cmdlineSource})
		}
		return
	}
	m, ok := underscores(modname, true)
	if !ok {
		c.Diags = append(c.Diags, Diagnostic{Kind: BadCmdline, Source: cmdlineSource, Word: modname})
		return
	}
	c.Options = append(c.Options, Option{Module: m, Options: param, Source: cmdlineSource})
}
