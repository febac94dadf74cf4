package depmod

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gokmod/gokmod/cmd/internal/getopt"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/depmod"
	"github.com/gokmod/gokmod/pkg/kernel"
)

// Version is what -V prints on its first line.
const Version = "gokmod version 1.0 (kmod 30 compatible)"

// features is -V's second line, in kmod's format.
const features = "+ZSTD +XZ +ZLIB +LZ4 +LIBCRYPTO -EXPERIMENTAL"

const helpText = `Usage:
	%s -[aA] [options] [forced_version]

If no arguments (except options) are given, "depmod -a" is assumed

depmod will output a dependency list suitable for the modprobe utility.

Options:
	-a, --all            Probe all modules
	-A, --quick          Only does the work if there's a new module
	-e, --errsyms        Report not supplied symbols
	-n, --show           Write the dependency file on stdout only
	-P, --symbol-prefix  Architecture symbol prefix
	-C, --config=PATH    Read configuration from PATH
	-v, --verbose        Enable verbose mode
	-w, --warn           Warn on duplicates
	-V, --version        show version
	-h, --help           show this help

The following options are useful for people managing distributions:
	-b, --basedir=DIR    Use an image of a module tree.
	-o, --outdir=DIR     Output directory for generated files.
	-F, --filesyms=FILE  Use the file instead of the
	                     current kernel symbols.
	-E, --symvers=FILE   Use Module.symvers file to check
	                     symbol versions.

gokmod additions:
	    --summary        With -e, one warning line per module, then totals
	    --json           With -n, print the modules as JSON
	    --jobs=N         Decode modules on N goroutines (default: CPUs, at most 8)
`

var options = []getopt.Option{
	{Long: "all", Short: 'a'},
	{Long: "quick", Short: 'A'},
	{Long: "basedir", Short: 'b', Arg: true},
	{Long: "outdir", Short: 'o', Arg: true},
	{Long: "config", Short: 'C', Arg: true},
	{Long: "symvers", Short: 'E', Arg: true},
	{Long: "filesyms", Short: 'F', Arg: true},
	{Long: "errsyms", Short: 'e'},
	{Long: "unresolved-error", Short: 'u'},
	{Long: "quiet", Short: 'q'},
	{Long: "root", Short: 'r'},
	{Long: "verbose", Short: 'v'},
	{Long: "show", Short: 'n'},
	{Long: "dry-run", Short: 'n'},
	{Long: "symbol-prefix", Short: 'P', Arg: true},
	{Long: "warn", Short: 'w'},
	{Long: "map", Short: 'm'},
	{Long: "version", Short: 'V'},
	{Long: "help", Short: 'h'},
	{Long: "summary"},
	{Long: "json"},
	{Long: "jobs", Arg: true},
}

// Main runs depmod and returns its exit status.
func Main(env *tool.Env) int {
	argv0 := "depmod"
	if len(env.Args) > 0 {
		argv0 = env.Args[0]
	}
	var args []string
	if len(env.Args) > 1 {
		args = env.Args[1:]
	}
	name := env.Name()
	logf := func(lv depmod.Level, msg string) {
		fmt.Fprintf(env.Stderr, "%s: %s: %s\n", name, lv, msg)
	}
	found, operands, errMsg := getopt.Parse(argv0, args, options)
	o := depmod.Options{Log: logf, Show: env.Stdout}
	var all, quick, summary, jsonOut bool
	for _, p := range found {
		switch p.Opt.Short {
		case 'a':
			all = true
		case 'A':
			quick = true
		case 'b':
			o.BaseDir = absolute(p.Val)
		case 'o':
			o.OutDir = absolute(p.Val)
		case 'C':
			o.ConfigPaths = append(o.ConfigPaths, p.Val)
		case 'E':
			o.Symvers = p.Val
		case 'F':
			o.SystemMap = p.Val
		case 'e':
			o.ErrSyms = true
		case 'v':
			o.Verbose++
		case 'n':
			o.DryRun = true
		case 'P':
			if len(p.Val) != 1 {
				logf(depmod.LevelFatal, "-P only takes a single char")
				return 1
			}
			o.SymPrefix = p.Val[0]
		case 'w':
			o.WarnDups = true
		case 'u', 'q', 'r', 'm':
			if p.Long {
				logf(depmod.LevelWarning, "Ignored deprecated option --"+p.Opt.Long)
			} else {
				logf(depmod.LevelWarning, "Ignored deprecated option -"+string(p.Opt.Short))
			}
		case 'h':
			fmt.Fprintf(env.Stdout, helpText, name)
			return 0
		case 'V':
			fmt.Fprintf(env.Stdout, "%s\n%s\n", Version, features)
			return 0
		case 0:
			switch p.Opt.Long {
			case "summary":
				summary = true
			case "json":
				jsonOut = true
			case "jobs":
				n, err := strconv.Atoi(p.Val)
				if err != nil || n < 1 {
					logf(depmod.LevelFatal, fmt.Sprintf("--jobs needs a positive number, not %q", p.Val))
					return 1
				}
				o.Workers = n
			}
		}
	}
	if errMsg != "" {
		io.WriteString(env.Stderr, errMsg)
		return 1
	}
	if jsonOut && !o.DryRun {
		logf(depmod.LevelFatal, "--json needs -n")
		return 1
	}
	o.Summary = summary
	if len(operands) > 0 {
		if !depmod.IsVersion(operands[0]) {
			logf(depmod.LevelError, "Bad version passed "+operands[0])
			return 1
		}
		o.KVer = operands[0]
		operands = operands[1:]
	}
	if !all && len(operands) > 0 {
		o.Modules = operands
	}
	if o.KVer == "" {
		rel, err := kernel.Release()
		if err != nil {
			logf(depmod.LevelFatal, "uname() failed: "+err.Error())
			return 1
		}
		o.KVer = rel
	}
	if quick {
		if o.DryRun {
			return 0
		}
		o.Modules = nil
		if depmod.UpToDate(o.Dir(), logf) {
			return 0
		}
	}
	res, err := depmod.Build(o)
	if err != nil {
		return 1
	}
	if summary {
		printSummary(env, name, res.Warnings)
	}
	if !o.DryRun {
		if err := res.Write(); err != nil {
			logf(depmod.LevelFatal, err.Error())
			return 1
		}
		return 0
	}
	w := bufio.NewWriterSize(env.Stdout, 64<<10)
	defer w.Flush()
	if jsonOut {
		return writeJSON(w, res)
	}
	for _, f := range res.Files {
		if f.Text {
			w.Write(f.Data)
		}
	}
	return 0
}

func absolute(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	return wd + "/" + p
}

// printSummary prints, for each module with -e warnings, how many symbols
// it lacks and how many disagree about their version, then the totals.
func printSummary(env *tool.Env, name string, ws []depmod.Unresolved) {
	type counts struct {
		unknown, mismatch []string
	}
	var order []string
	per := map[string]*counts{}
	nUnknown, nMismatch := 0, 0
	for _, u := range ws {
		c := per[u.Module]
		if c == nil {
			c = &counts{}
			per[u.Module] = c
			order = append(order, u.Module)
		}
		if u.Mismatch {
			c.mismatch = append(c.mismatch, u.Symbol)
			nMismatch++
		} else {
			c.unknown = append(c.unknown, u.Symbol)
			nUnknown++
		}
	}
	for _, m := range order {
		c := per[m]
		if len(c.unknown) > 0 {
			fmt.Fprintf(env.Stderr, "%s: WARNING: %s needs %d unknown symbols: %s\n", name, m, len(c.unknown), strings.Join(c.unknown, " "))
		}
		if len(c.mismatch) > 0 {
			fmt.Fprintf(env.Stderr, "%s: WARNING: %s disagrees about the version of %d symbols: %s\n", name, m, len(c.mismatch), strings.Join(c.mismatch, " "))
		}
	}
	if len(order) > 0 {
		fmt.Fprintf(env.Stderr, "%s: WARNING: %d modules: %d unknown symbols, %d version mismatches\n", name, len(order), nUnknown, nMismatch)
	}
}

// jsonModule is one module of --json's output.
type jsonModule struct {
	Name     string   `json:"name"`
	Path     string   `json:"path"`
	Deps     []string `json:"deps"`
	Aliases  []string `json:"aliases,omitempty"`
	Softdeps []string `json:"softdeps,omitempty"`
	Symbols  []string `json:"symbols,omitempty"`
	Chosen   string   `json:"chosen,omitempty"`
}

func writeJSON(w io.Writer, res *depmod.Result) int {
	out := struct {
		Dir     string       `json:"dir"`
		Modules []jsonModule `json:"modules"`
	}{Dir: res.Dir, Modules: []jsonModule{}}
	for _, m := range res.Modules {
		out.Modules = append(out.Modules, jsonModule{
			Name: m.Name, Path: m.RelPath, Deps: append([]string{}, m.Deps...),
			Aliases: m.Aliases, Softdeps: m.Softdeps, Symbols: m.Exports, Chosen: m.Chosen,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return 1
	}
	return 0
}
