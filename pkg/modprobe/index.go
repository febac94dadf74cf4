package modprobe

import (
	"errors"
	"io"
	"os"
	"strings"

	"github.com/gokmod/gokmod/pkg/modindex"
)

// The module indexes are read as libkmod reads them, from depmod's
// binary tries (package modindex) when they are there; gokmod falls
// back to the text files (package moddb) for a tree without them, where
// kmod finds nothing.

// binIndex is one modules.*.bin file, opened on first use and read a
// node at a time, as libkmod maps it; x is nil when the file is missing
// or unreadable.
type binIndex struct {
	opened bool
	f      *os.File
	x      *modindex.Index
}

const (
	idxDep = iota
	idxAlias
	idxSymbols
	idxBuiltin
	idxBuiltinAlias
	numIndexes
)

var indexFiles = [numIndexes]string{
	idxDep:          "modules.dep.bin",
	idxAlias:        "modules.alias.bin",
	idxSymbols:      "modules.symbols.bin",
	idxBuiltin:      "modules.builtin.bin",
	idxBuiltinAlias: "modules.builtin.alias.bin",
}

// bin returns index i, or nil to use the text files. p.mu is held.
func (p *Prober) bin(i int) *modindex.Index {
	b := &p.bins[i]
	if !b.opened {
		b.opened = true
		f, err := os.Open(p.dir + "/" + indexFiles[i])
		if err != nil {
			return nil
		}
		x, err := modindex.New(f)
		if err != nil {
			f.Close()
			return nil
		}
		b.f, b.x = f, x
	}
	return b.x
}

// depOf finds a module's modules.dep entry. p.mu is held.
func (p *Prober) depOf(name string) (Module, bool) {
	if x := p.bin(idxDep); x != nil {
		vals, err := x.Lookup(name)
		if err != nil || len(vals) == 0 {
			return Module{}, false
		}
		path, rest, ok := strings.Cut(vals[0].Value, ":")
		if !ok {
			return Module{}, false
		}
		m := Module{Name: name, Path: p.abs(path)}
		for _, d := range strings.Fields(rest) {
			m.deps = append(m.deps, p.abs(d))
		}
		return m, true
	}
	dm, err := p.db.Lookup(name)
	if err != nil {
		return Module{}, false
	}
	return Module{Name: dm.Name, Path: dm.Path, deps: dm.Deps}, true
}

func (p *Prober) abs(path string) string {
	if strings.HasPrefix(path, "/") {
		return path
	}
	return p.dir + "/" + path
}

// search answers an alias index: the module names whose patterns match
// alias, in priority order. p.mu is held.
func (p *Prober) search(i int, alias string, text func(string) ([]string, error)) ([]string, error) {
	if x := p.bin(i); x != nil {
		vals, err := x.Search(alias)
		if errors.Is(err, modindex.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		names := make([]string, len(vals))
		for j, v := range vals {
			names[j] = v.Value
		}
		return names, nil
	}
	names, err := text(alias)
	if err != nil && !ignorable(err) {
		return nil, err
	}
	return names, nil
}

// isBuiltinName reports whether modules.builtin lists name. p.mu is held.
func (p *Prober) isBuiltinName(name string) bool {
	if x := p.bin(idxBuiltin); x != nil {
		vals, err := x.Lookup(name)
		return err == nil && len(vals) > 0
	}
	b, _ := p.db.IsBuiltin(name)
	return b
}

// dumpBin writes an alias index in kmod's dump format; false when there
// is no such .bin file.
func (p *Prober) dumpBin(w io.Writer, name string) (bool, error) {
	var i int
	switch name {
	case "modules.alias":
		i = idxAlias
	case "modules.symbols":
		i = idxSymbols
	default:
		return false, nil
	}
	p.mu.Lock()
	x := p.bin(i)
	p.mu.Unlock()
	if x == nil {
		return false, nil
	}
	err := x.Walk(func(key string, vals []modindex.Value) error {
		for _, v := range vals {
			if _, err := io.WriteString(w, "alias "+key+" "+v.Value+"\n"); err != nil {
				return err
			}
		}
		return nil
	})
	return true, err
}

// Close closes the index files the Prober opened. A Prober can still be
// used afterwards: it opens them again when it needs them.
func (p *Prober) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for i := range p.bins {
		if p.bins[i].f != nil {
			errs = append(errs, p.bins[i].f.Close())
		}
		p.bins[i] = binIndex{}
	}
	return errors.Join(errs...)
}
