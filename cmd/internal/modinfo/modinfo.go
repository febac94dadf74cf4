package modinfo

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/gokmod/gokmod/cmd/internal/getopt"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/moddb"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/modprobe"
	"github.com/gokmod/gokmod/pkg/modsig"
)

// Version is what -V prints on its first line.
const Version = "gokmod version 1.0 (kmod 30 compatible)"

// features is -V's second line, in kmod's format.
const features = "+ZSTD +XZ +ZLIB +LZ4 +LIBCRYPTO -EXPERIMENTAL"

var options = []getopt.Option{
	{Long: "author", Short: 'a'},
	{Long: "description", Short: 'd'},
	{Long: "license", Short: 'l'},
	{Long: "parameters", Short: 'p'},
	{Long: "filename", Short: 'n'},
	{Long: "null", Short: '0'},
	{Long: "modname", Short: 'm'},
	{Long: "field", Short: 'F', Arg: true},
	{Long: "set-version", Short: 'k', Arg: true},
	{Long: "basedir", Short: 'b', Arg: true},
	{Long: "version", Short: 'V'},
	{Long: "help", Short: 'h'},
	{Long: "json"},
	{Long: "image-limit", Arg: true},
}

const helpText = `Usage:
	%s [options] <modulename|filename> [args]
Options:
	-a, --author                Print only 'author'
	-d, --description           Print only 'description'
	-l, --license               Print only 'license'
	-p, --parameters            Print only 'parm'
	-n, --filename              Print only 'filename'
	-0, --null                  Use \0 instead of \n
	-m, --modname               Handle argument as module name instead of alias or filename
	-F, --field=FIELD           Print only provided FIELD
	-k, --set-version=VERSION   Use VERSION instead of ` + "`uname -r`" + `
	-b, --basedir=DIR           Use DIR as filesystem root for /lib/modules
	    --json                  Print every field of each module as JSON
	    --image-limit=SIZE      Read modules of up to SIZE bytes decompressed (default 128M)
	-V, --version               Show version
	-h, --help                  Show this help
`

// cmd is one run of modinfo.
type cmd struct {
	env     *tool.Env
	out     *bufio.Writer
	sep     byte
	fields  []string // -F and friends, in order; empty: everything
	json    bool
	modname bool
	db      *modprobe.Prober
	openDB  func() error // sets db
	jsonN   int          // modules printed as JSON so far
	files   modfile.Config
}

// Main runs modinfo with env and returns its exit status.
func Main(env *tool.Env) int {
	argv0 := "modinfo"
	if len(env.Args) > 0 {
		argv0 = env.Args[0]
	}
	var args []string
	if len(env.Args) > 1 {
		args = env.Args[1:]
	}
	c := &cmd{env: env, out: bufio.NewWriterSize(env.Stdout, 64<<10), sep: '\n'}
	defer c.out.Flush()

	found, operands, errMsg := getopt.Parse(argv0, args, options)
	var kver, root string
	var haveKver, haveRoot bool
	for _, p := range found {
		switch p.Opt.Short {
		case 'a':
			c.fields = append(c.fields, "author")
		case 'd':
			c.fields = append(c.fields, "description")
		case 'l':
			c.fields = append(c.fields, "license")
		case 'p':
			c.fields = append(c.fields, "parm")
		case 'n':
			c.fields = append(c.fields, "filename")
		case '0':
			c.sep = 0
		case 'm':
			c.modname = true
		case 'F':
			c.fields = append(c.fields, p.Val)
		case 'k':
			kver, haveKver = p.Val, true
		case 'b':
			root, haveRoot = p.Val, true
		case 'h':
			fmt.Fprintf(c.out, helpText, env.Name())
			return 0
		case 'V':
			fmt.Fprintf(c.out, "%s\n%s\n", Version, features)
			return 0
		case 0:
			switch p.Opt.Long {
			case "json":
				c.json = true
			case "image-limit":
				n, err := tool.ParseSize(p.Val)
				if err != nil {
					c.errorf("--image-limit: %v", err)
					return 1
				}
				c.files.MaxSize = n
			}
		}
	}
	if errMsg != "" {
		c.out.Flush()
		fmt.Fprint(env.Stderr, errMsg)
		return 1
	}
	if len(operands) == 0 {
		c.errorf("missing module or filename.")
		return 1
	}
	// The module directory is only needed for names and aliases: uname
	// -r is read when the first one is looked up, as a file needs none.
	c.openDB = func() error {
		if !haveKver {
			rel, err := kernelRelease()
			if err != nil {
				if haveRoot {
					c.errorf("uname() failed: %v", err)
				} else {
					c.errorf("kmod_new() failed!")
				}
				return err
			}
			kver = rel
		}
		db, err := modprobe.New(modprobe.Options{Root: root, KernelRelease: kver})
		if err != nil {
			c.errorf("kmod_new() failed!")
			return err
		}
		c.db = db
		return nil
	}

	if c.json {
		c.out.WriteString("[")
	}
	status := 0
	for _, arg := range operands {
		var err error
		isFile := !c.modname && isModuleFile(arg)
		if c.db == nil && !isFile {
			if err := c.openDB(); err != nil {
				if c.json {
					c.out.WriteString("]\n")
				}
				return 1
			}
		}
		switch {
		case c.modname:
			err = c.nameDo(arg)
		case isFile:
			err = c.show(module{name: moddb.ModuleName(arg), path: absolute(arg)})
		default:
			err = c.aliasDo(arg)
		}
		if err != nil {
			status = 1
		}
	}
	if c.json {
		c.out.WriteString("]\n")
	}
	return status
}

// kernelRelease is uname -r.
func kernelRelease() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// absolute makes a path absolute as kmod does (path_make_absolute_cwd):
// the working directory, a slash and the path, not cleaned.
func absolute(p string) string {
	if strings.HasPrefix(p, "/") {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	return wd + "/" + p
}

// moduleExts are the file name endings kmod takes for a module file.
// kmod 30 as Debian builds it has no ".ko.gz"; gokmod reads gzip and lz4
// too.
var moduleExts = []string{".ko", ".ko.gz", ".ko.xz", ".ko.zst", ".ko.lz4"}

func isModuleFile(name string) bool {
	st, err := os.Stat(name)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	for _, ext := range moduleExts {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

// errorf prints an ERROR line after what stdout has so far.
func (c *cmd) errorf(format string, a ...any) {
	c.out.Flush()
	c.env.Errorf(format, a...)
}

// module is what modinfo shows: a file, or a built-in module (path "").
type module struct {
	name string
	path string
}

func (c *cmd) nameDo(name string) error {
	m, err := c.db.LookupName(name)
	if err != nil || m == nil {
		c.errorf("Module name %s not found.", name)
		return errNotFound
	}
	return c.show(module{name: m.Name, path: m.Path})
}

var errNotFound = errors.New("not found")

func (c *cmd) aliasDo(arg string) error {
	mods, err := c.db.Lookup(arg)
	if err != nil {
		c.errorf("Module alias %s not found.", arg)
		if !errors.Is(err, modprobe.ErrBadAlias) {
			c.env.Hintf("%v", err)
		}
		return err
	}
	if len(mods) == 0 {
		c.errorf("Module %s not found.", arg)
		return errNotFound
	}
	var last error
	for _, m := range mods {
		// A module modules.dep does not list is shown as built-in, as
		// kmod shows it.
		if err := c.show(module{name: m.Name, path: m.Path}); err != nil {
			last = err
		}
	}
	return last
}

// entry is one line of modinfo's list: a .modinfo string or a signature field.
type entry = modfile.Field

// load returns a module's .modinfo strings followed by its signature
// fields (a built-in module's come from modules.builtin.modinfo and it has
// no signature). A malformed signature is returned in sigErr and left out
// of the list, as kmod leaves it out.
func (c *cmd) load(m module) (list []entry, sig *modsig.Signature, sigErr error, err error) {
	if m.path == "" {
		info, err := c.db.BuiltinInfo(m.name)
		if err != nil && !errors.Is(err, moddb.ErrNotFound) {
			return nil, nil, nil, err
		}
		return info, nil, nil, nil
	}
	f, err := c.files.Open(m.path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	info, err := f.Info()
	if err != nil {
		return nil, nil, nil, err
	}
	list = info
	sig, sigErr = f.Signature()
	if sig != nil {
		list = append(list[:len(list):len(list)],
			entry{Key: "sig_id", Value: sig.IDType.String()},
			entry{Key: "signer", Value: sig.Signer},
			entry{Key: "sig_key", Value: hexString(sig.KeyID)},
			entry{Key: "sig_hashalgo", Value: sig.HashAlgo},
			entry{Key: "signature", Value: hexString(sig.Value)},
		)
	}
	return list, sig, sigErr, nil
}

// hexString formats b as kmod does: upper-case hex bytes joined by ':',
// with "\n\t\t" after every 20 bytes but the last.
func hexString(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) * 4)
	const digits = "0123456789ABCDEF"
	for i, x := range b {
		sb.WriteByte(digits[x>>4])
		sb.WriteByte(digits[x&15])
		if i < len(b)-1 {
			sb.WriteByte(':')
			if (i+1)%20 == 0 {
				sb.WriteString("\n\t\t")
			}
		}
	}
	return sb.String()
}

// show prints one module as kmod's modinfo_do does.
func (c *cmd) show(m module) error {
	if c.json {
		return c.showJSON(m)
	}
	filename := m.path
	builtin := m.path == ""
	if builtin {
		filename = "(builtin)"
	}
	if len(c.fields) == 0 {
		if builtin {
			c.printf("%-16s%s%c", "name:", m.name, c.sep)
		}
		c.printf("%-16s%s%c", "filename:", filename, c.sep)
	}
	// With only -F filename, kmod does not even read the module.
	onlyFilename := len(c.fields) > 0
	for _, f := range c.fields {
		if f != "filename" {
			onlyFilename = false
		}
	}
	if onlyFilename {
		for range c.fields {
			c.printf("%s%c", filename, c.sep)
		}
		return nil
	}
	list, _, _, err := c.load(m)
	if err != nil {
		if len(c.fields) > 0 {
			c.printFieldsBeforeError(m, builtin, filename)
		}
		if builtin && errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		c.errorf("could not get modinfo from '%s': %s", m.name, errnoText(err))
		c.env.Hintf("%v", err)
		return err
	}
	if len(c.fields) == 0 {
		c.printAll(list)
		return nil
	}
	for _, f := range c.fields {
		switch {
		case f == "filename":
			c.printf("%s%c", filename, c.sep)
		case f == "parm":
			c.printParams(list, false)
		default:
			if f == "name" && builtin {
				c.printf("%s%c", m.name, c.sep)
			}
			for _, e := range list {
				if e.Key == f {
					c.printf("%s%c", e.Value, c.sep)
				}
			}
		}
	}
	return nil
}

// printFieldsBeforeError prints what kmod prints before it reads the
// module: the name of a built-in module for -F name, and the file name for
// -F filename (only reached with several fields).
func (c *cmd) printFieldsBeforeError(m module, builtin bool, filename string) {
	for _, f := range c.fields {
		switch {
		case f == "name" && builtin:
			c.printf("%s%c", m.name, c.sep)
		case f == "filename":
			c.printf("%s%c", filename, c.sep)
		}
	}
}

func (c *cmd) printf(format string, a ...any) {
	fmt.Fprintf(c.out, format, a...)
}

// printAll prints every entry as "key:" padded to 16 columns (or
// "key=value" with -0), then the parameters.
func (c *cmd) printAll(list []entry) {
	for _, e := range list {
		if e.Key == "parm" || e.Key == "parmtype" {
			continue
		}
		if c.sep == 0 {
			c.out.WriteString(e.Key)
			c.out.WriteByte('=')
			c.out.WriteString(e.Value)
			c.out.WriteByte(0)
			continue
		}
		c.out.WriteString(e.Key)
		c.out.WriteByte(':')
		// printf("%-*s", 15-len(key), ""): a negative width is a
		// left-justified positive one.
		pad := 15 - len(e.Key)
		if pad < 0 {
			pad = -pad
		}
		for range pad {
			c.out.WriteByte(' ')
		}
		c.out.WriteString(e.Value)
		c.out.WriteByte(c.sep)
	}
	c.printParams(list, true)
}

// printParams prints the merged parm/parmtype strings, labelled "parm:"
// in the full listing; invalid ones are reported as kmod does.
func (c *cmd) printParams(list []entry, labelled bool) {
	params, invalid := modfile.Info(list).Params()
	for _, f := range invalid {
		c.errorf("Found invalid \"%s=%s\": missing ':'", f.Key, f.Value)
	}
	label := ""
	if labelled {
		label = fmt.Sprintf("%-16s", "parm:")
	}
	for _, p := range params {
		switch {
		case !p.HasDesc && labelled:
			c.printf("%s%s:%s%c", label, p.Name, p.Type, c.sep)
		case !p.HasDesc:
			c.printf("%s: (%s)%c", p.Name, p.Type, c.sep)
		case p.HasType:
			c.printf("%s%s:%s (%s)%c", label, p.Name, p.Description, p.Type, c.sep)
		default:
			c.printf("%s%s:%s%c", label, p.Name, p.Description, c.sep)
		}
	}
}

// errnoText is the strerror text kmod prints for a module it cannot read.
func errnoText(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied"
	case errors.Is(err, modfile.ErrNotELF):
		return "Exec format error"
	case errors.Is(err, modfile.ErrNotModule):
		return "No data available"
	}
	return "Invalid argument"
}
