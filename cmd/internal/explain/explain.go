package explain

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/gokmod/gokmod/pkg/diagnose"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/ksym"
	"github.com/gokmod/gokmod/pkg/moddb"
	"github.com/gokmod/gokmod/pkg/modfile"
)

// Load prints what goinsmod prints after a failed load of filename: the
// kernel log records of recs that concern it and a "hint:" line.
func Load(w io.Writer, filename string, err error, recs []kernel.Record) {
	d := Diagnosis(filename, nil, 0, err, recs)
	for _, r := range d.Relevant() {
		fmt.Fprintf(w, "[%5d.%06d] %s\n", r.Time.Microseconds()/1e6, r.Time.Microseconds()%1e6, r.Message)
	}
	if h := d.Hint(); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}

// Diagnosis gathers what the hint needs: the module's name, license and
// parameters from image (what the loader read, if it did) or else the file
// (decompressing at most limit bytes; 0 is modfile's default), the running
// release, and lookups in modules.symbols and /proc/kallsyms.
func Diagnosis(filename string, image []byte, limit int64, err error, recs []kernel.Record) diagnose.Load {
	d := diagnose.Load{Name: moddb.ModuleName(filename), Path: filename, Err: err, Kmsg: recs}
	cfg := modfile.Config{MaxSize: limit}
	open := func() (*modfile.File, error) { return cfg.Open(filename) }
	if image != nil {
		open = func() (*modfile.File, error) { return cfg.NewFileBytes(image) }
	}
	if f, ferr := open(); ferr == nil {
		if name, nerr := f.Name(); nerr == nil && name != "" {
			d.Name = name
		}
		if info, ierr := f.Info(); ierr == nil {
			d.License = info.License()
			params, _ := info.Params()
			d.Params = []string{}
			for _, p := range params {
				d.Params = append(d.Params, p.Name)
			}
		}
		f.Close()
	}
	d.Release, _ = kernel.Release()
	d.SymbolOwner = symbolOwner(d.Release)
	d.KernelSymbol = kallsyms(os.DirFS("/"))
	return d
}

// kallsyms reports whether /proc/kallsyms lists a symbol; nil when it
// cannot be read.
func kallsyms(root fs.FS) func(string) bool {
	f, err := root.Open("proc/kallsyms")
	if err != nil {
		return nil
	}
	f.Close()
	return func(sym string) bool {
		f, err := root.Open("proc/kallsyms")
		if err != nil {
			return false
		}
		defer f.Close()
		return ksym.Scan(f, func(s ksym.Symbol) error {
			if s.Name == sym {
				return errFound
			}
			return nil
		}) == errFound
	}
}

// errFound ends a scan of /proc/kallsyms at the symbol looked for.
var errFound = errors.New("found")

// symbolOwner looks sym up in modules.symbols of the running kernel.
func symbolOwner(release string) func(string) string {
	if release == "" {
		return nil
	}
	db := moddb.Open("", release)
	return func(sym string) string {
		mods, err := db.Symbol(sym)
		if err != nil || len(mods) == 0 {
			return ""
		}
		return strings.Join(mods, " or ")
	}
}
