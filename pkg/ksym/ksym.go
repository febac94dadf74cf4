package ksym

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Errors returned by this package.
var (
	// ErrSyntax means a line is not "ADDRESS TYPE NAME [[MODULE]]".
	ErrSyntax = errors.New("malformed symbol line")
	// ErrHidden means every address reads zero: the kernel hides them from
	// this user (kptr_restrict); read the table as root.
	ErrHidden = errors.New("symbol addresses are hidden (read it as root)")
	// ErrPlaceholder means the file is a distribution's placeholder for
	// System.map, not the table.
	ErrPlaceholder = errors.New("placeholder System.map without symbols")
	// ErrEmpty means the input holds no symbol.
	ErrEmpty = errors.New("no symbols")
)

// MaxLine is the longest line Parse accepts.
const MaxLine = 4096

// Symbol is one line of the table.
type Symbol struct {
	Addr   uint64
	Type   byte   // nm's letter: T t D d R r B b A W V ...
	Name   string //
	Module string // the loaded module that defines it; "" for the kernel
}

// Export is a symbol the kernel or a module exports to modules.
type Export struct {
	Symbol
	GPLOnly bool // EXPORT_SYMBOL_GPL
}

// Table is a symbol table. The zero value is empty and ready for Add.
type Table struct {
	syms    []Symbol       // sorted by address, then input order
	byName  map[string]int // first kernel symbol of a name, else first module one
	exports map[string]Export
	ksymtab bool // the kernel's __ksymtab_ entries are listed
}

// Open reads a table from a file: /proc/kallsyms or a System.map.
func Open(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads a table in the kallsyms or System.map format.
func Parse(r io.Reader) (*Table, error) {
	t := &Table{}
	nonzero := false
	err := Scan(r, func(s Symbol) error {
		nonzero = nonzero || s.Addr != 0
		t.syms = append(t.syms, s)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(t.syms) == 0 {
		return nil, ErrEmpty
	}
	if !nonzero {
		return nil, ErrHidden
	}
	t.index()
	return t, nil
}

// Scan reads a table in the kallsyms or System.map format and calls fn
// for each symbol in order. Unlike Parse it takes a table whose addresses
// the kernel hid (all zero without root), for callers that want the names
// only; an error from fn ends the scan and is returned.
func Scan(r io.Reader, fn func(Symbol) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", ErrSyntax, p)
		}
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), MaxLine)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		s, err := parseLine(line)
		if err != nil {
			if n == 1 && strings.HasPrefix(line, "ffffffffffffffff B The real System.map") {
				return ErrPlaceholder
			}
			return fmt.Errorf("line %d: %w", n, err)
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: %w: longer than %d bytes", n+1, ErrSyntax, MaxLine)
		}
		return err
	}
	return nil
}

func parseLine(line string) (Symbol, error) {
	f := strings.Fields(line)
	if len(f) != 3 && len(f) != 4 {
		return Symbol{}, fmt.Errorf("%w: %d fields in %q", ErrSyntax, len(f), line)
	}
	addr, err := strconv.ParseUint(f[0], 16, 64)
	if err != nil {
		return Symbol{}, fmt.Errorf("%w: address %q", ErrSyntax, f[0])
	}
	if len(f[1]) != 1 {
		return Symbol{}, fmt.Errorf("%w: type %q", ErrSyntax, f[1])
	}
	s := Symbol{Addr: addr, Type: f[1][0], Name: f[2]}
	if len(f) == 4 {
		m, ok := strings.CutPrefix(f[3], "[")
		if m, ok = strings.CutSuffix(m, "]"); !ok || m == "" {
			return Symbol{}, fmt.Errorf("%w: module %q", ErrSyntax, f[3])
		}
		s.Module = m
	}
	return s, nil
}

// Add puts symbols into the table, e.g. those of a module laid out
// offline. Exports among them are recorded with their GPL-ness.
func (t *Table) Add(syms ...Symbol) {
	t.syms = append(t.syms, syms...)
	t.index()
}

// AddExport records that exp.Module exports exp.Name (a module file's
// EXPORT_SYMBOL* list, which kallsyms cannot tell apart by GPL-ness). The
// symbol itself is added too.
func (t *Table) AddExport(exp Export) {
	if t.exports == nil {
		t.exports = make(map[string]Export)
	}
	if _, ok := t.exports[exp.Name]; !ok {
		t.exports[exp.Name] = exp
	}
	t.Add(exp.Symbol)
}

func (t *Table) index() {
	sort.SliceStable(t.syms, func(i, j int) bool { return t.syms[i].Addr < t.syms[j].Addr })
	t.byName = make(map[string]int, len(t.syms))
	t.ksymtab = false
	for i, s := range t.syms {
		t.ksymtab = t.ksymtab || (s.Module == "" && strings.HasPrefix(s.Name, "__ksymtab_"))
		j, ok := t.byName[s.Name]
		if !ok || (t.syms[j].Module != "" && s.Module == "") {
			t.byName[s.Name] = i
		}
	}
}

// Len is the number of symbols.
func (t *Table) Len() int { return len(t.syms) }

// Symbols returns the symbols in address order.
func (t *Table) Symbols() []Symbol { return append([]Symbol(nil), t.syms...) }

// Lookup finds a symbol by name: the kernel's if it has one, else the
// first module's.
func (t *Table) Lookup(name string) (Symbol, bool) {
	i, ok := t.byName[name]
	if !ok {
		return Symbol{}, false
	}
	return t.syms[i], true
}

// At names an address: the symbol with the highest address at or below
// addr (the first such in input order when several share it) and addr's
// offset from it. It reports false below the lowest symbol. Absolute
// symbols (type A or a) are not used to name addresses.
func (t *Table) At(addr uint64) (Symbol, uint64, bool) {
	i := sort.Search(len(t.syms), func(i int) bool { return t.syms[i].Addr > addr })
	for i--; i >= 0; i-- {
		s := t.syms[i]
		if s.Type == 'A' || s.Type == 'a' {
			continue
		}
		// Several symbols at one address: take the first of them.
		for i > 0 && t.syms[i-1].Addr == s.Addr && t.syms[i-1].Type != 'A' && t.syms[i-1].Type != 'a' {
			i--
			s = t.syms[i]
		}
		return s, addr - s.Addr, true
	}
	return Symbol{}, 0, false
}

// Export finds what the kernel or a loaded module exports under name, as
// the kernel's find_symbol sees it: the kernel first, then modules. An
// export is known by its __ksymtab_NAME entry; a kernel export is GPL-only
// when that entry lies in the kernel's __ksymtab_gpl section. Exports
// recorded with AddExport count as module exports. It reports false for a
// symbol that is not exported, even when the table has it.
func (t *Table) Export(name string) (Export, bool) {
	if e, ok := t.kernelExport(name); ok {
		return e, true
	}
	if e, ok := t.exports[name]; ok {
		return e, true
	}
	// A module's __ksymtab_NAME in kallsyms: exported, GPL-ness unknown.
	for _, s := range t.syms {
		if s.Module != "" && s.Name == "__ksymtab_"+name {
			for _, d := range t.syms {
				if d.Module == s.Module && d.Name == name {
					return Export{Symbol: d}, true
				}
			}
		}
	}
	return Export{}, false
}

func (t *Table) kernelExport(name string) (Export, bool) {
	ks, ok := t.Lookup("__ksymtab_" + name)
	if !ok || ks.Module != "" {
		return Export{}, false
	}
	s, ok := t.Lookup(name)
	if !ok || s.Module != "" {
		return Export{}, false
	}
	e := Export{Symbol: s}
	start, ok1 := t.Lookup("__start___ksymtab_gpl")
	stop, ok2 := t.Lookup("__stop___ksymtab_gpl")
	e.GPLOnly = ok1 && ok2 && ks.Addr >= start.Addr && ks.Addr < stop.Addr
	return e, true
}

// HasExports reports whether the table lists the kernel's exports
// (__ksymtab_ entries, which kallsyms shows only with
// CONFIG_KALLSYMS_ALL); a table that does not can only resolve names.
func (t *Table) HasExports() bool { return t.ksymtab }
