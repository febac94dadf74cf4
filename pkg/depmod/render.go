package depmod

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gokmod/gokmod/pkg/moddb"
	"github.com/gokmod/gokmod/pkg/modindex"
)

// render produces every file in the order kmod writes them. The binary
// indexes are built only when not dry-running (kmod's -n prints the text
// files alone, and does not read modules.builtin).
func (r *run) render(mods []*Module) []File {
	bin := func(f func() []byte) []byte {
		if r.o.DryRun {
			return nil
		}
		return f()
	}
	// Each file is rendered in turn, as kmod writes them, so that the
	// messages come in kmod's order.
	var files []File
	add := func(name string, text bool, data []byte) {
		files = append(files, File{Name: name, Text: text, Data: data})
	}
	add("modules.dep", true, r.deps(mods))
	add("modules.dep.bin", false, bin(func() []byte { return r.depsBin(mods) }))
	add("modules.alias", true, r.aliases(mods))
	add("modules.alias.bin", false, bin(func() []byte { return r.aliasesBin(mods) }))
	add("modules.softdep", true, r.softdeps(mods))
	add("modules.symbols", true, r.symbolsText())
	add("modules.symbols.bin", false, bin(r.symbolsBin))
	add("modules.builtin.bin", false, bin(r.builtinBin))
	add("modules.builtin.alias.bin", false, bin(r.builtinAliasBin))
	add("modules.devname", true, r.devnames(mods))
	return files
}

func (r *run) deps(mods []*Module) []byte {
	var b bytes.Buffer
	for _, m := range mods {
		b.WriteString(depLine(m))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func depLine(m *Module) string {
	var b strings.Builder
	b.WriteString(m.RelPath)
	b.WriteByte(':')
	for _, d := range m.Deps {
		b.WriteByte(' ')
		b.WriteString(d)
	}
	return b.String()
}

// index collects insertions into one binary index and logs what kmod
// logs about them.
type index struct {
	r   *run
	b   modindex.Builder
	dup string // kmod's -w message for a duplicate, a format of key and value
}

func (x *index) add(key, value string, prio int) {
	dup, err := x.b.Add(key, value, uint32(prio))
	if err != nil {
		x.r.log.errorf("Module index: %s", err)
		return
	}
	if dup && x.r.o.WarnDups && x.dup != "" {
		x.r.log.warnf(x.dup, key, value)
	}
}

func (x *index) bytes() []byte {
	data, err := x.b.Bytes()
	if err != nil {
		x.r.log.errorf("Module index: %s", err)
		return nil
	}
	return data
}

func (r *run) depsBin(mods []*Module) []byte {
	x := &index{r: r}
	for _, m := range mods {
		line := depLine(m)
		dup, err := x.b.Add(m.Name, line, uint32(m.idx))
		if err != nil {
			r.log.errorf("Module index: %s", err)
			continue
		}
		if dup && r.o.WarnDups {
			r.log.warnf("duplicate module deps:\n%s", line)
		}
	}
	return x.bytes()
}

func (r *run) aliases(mods []*Module) []byte {
	var b bytes.Buffer
	b.WriteString("# Aliases extracted from modules themselves.\n")
	for _, m := range mods {
		for _, a := range m.Aliases {
			fmt.Fprintf(&b, "alias %s %s\n", a, m.Name)
		}
	}
	return b.Bytes()
}

func (r *run) aliasesBin(mods []*Module) []byte {
	x := &index{r: r, dup: "duplicate module alias:\n%s %s"}
	for _, m := range mods {
		for _, a := range m.Aliases {
			norm, err := moddb.NormalizeAlias(a)
			if err != nil {
				r.log.warnf("Unmatched bracket in %s", a)
				continue
			}
			x.add(norm, m.Name, m.idx)
		}
	}
	return x.bytes()
}

func (r *run) softdeps(mods []*Module) []byte {
	var b bytes.Buffer
	b.WriteString("# Soft dependencies extracted from modules themselves.\n")
	for _, m := range mods {
		for _, s := range m.Softdeps {
			fmt.Fprintf(&b, "softdep %s %s\n", m.Name, s)
		}
	}
	return b.Bytes()
}

// ownedSymbols lists the symbols a module owns, in kmod's hash order, and
// fills each module's Exports.
func (r *run) ownedSymbols() []string {
	var names []string
	for n, s := range r.syms {
		if s.owner != nil {
			names = append(names, n)
		}
	}
	kmodOrder(names, symbolBuckets)
	return names
}

func (r *run) symbolsText() []byte {
	var b bytes.Buffer
	b.WriteString("# Aliases for symbols, used by symbol_request().\n")
	for _, n := range r.ownedSymbols() {
		s := r.syms[n]
		s.owner.Exports = append(s.owner.Exports, n)
		fmt.Fprintf(&b, "alias symbol:%s %s\n", n, s.owner.Name)
	}
	return b.Bytes()
}

func (r *run) symbolsBin() []byte {
	x := &index{r: r, dup: "duplicate module syms:\n%s %s"}
	for _, n := range r.ownedSymbols() {
		s := r.syms[n]
		x.add("symbol:"+n, s.owner.Name, s.owner.idx)
	}
	return x.bytes()
}

// readInput reads a file of the module directory, logging kmod's warning
// when it cannot.
func (r *run) readInput(name string) ([]byte, bool) {
	data, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		r.log.warnf("could not open %s at %s: %s", name, r.dir, errText(err))
		return nil, false
	}
	return data, true
}

// builtinBin indexes modules.builtin: each line's module name, with an
// empty value. Without the file kmod writes an empty one.
func (r *run) builtinBin() []byte {
	data, ok := r.readInput("modules.builtin")
	if !ok {
		return []byte{}
	}
	x := &index{r: r}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		if c := line[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			r.log.errorf("Invalid modules.builtin line: %s", strings.TrimSuffix(string(line), "\n"))
			continue
		}
		x.add(ModuleName(string(line)), "", 0)
	}
	return x.bytes()
}

// builtinAliasBin indexes the alias= strings of modules.builtin.modinfo
// ("module.alias=value" records separated by NULs), read as kmod's
// stream parser reads them.
func (r *run) builtinAliasBin() []byte {
	data, ok := r.readInput("modules.builtin.modinfo")
	if !ok {
		return []byte{}
	}
	x := &index{r: r}
	pos := 0
	// upTo reads until end or NUL, and returns what it read and whether
	// it stopped at end.
	upTo := func(end byte) (string, bool) {
		start := pos
		for pos < len(data) {
			c := data[pos]
			pos++
			if c == end || c == 0 {
				return string(data[start : pos-1]), c == end
			}
		}
		return string(data[start:]), false
	}
	skip := func() {
		for pos < len(data) {
			c := data[pos]
			pos++
			if c == 0 {
				return
			}
		}
	}
	for pos < len(data) {
		mod, ok := upTo('.')
		if !ok || mod == "" {
			continue
		}
		key, ok := upTo('=')
		if !ok || key != "alias" {
			skip()
			continue
		}
		val, ok := upTo(0)
		if !ok || val == "" {
			continue
		}
		norm, err := moddb.NormalizeAlias(val)
		if err != nil {
			r.log.warnf("Unmatched bracket in %s", val)
			continue
		}
		x.add(norm, mod, 0)
	}
	return x.bytes()
}

// devnames lists the modules that name a device node (alias devname:NAME)
// with its type and numbers (alias char-major-M-N or block-major-M-N).
func (r *run) devnames(mods []*Module) []byte {
	var b bytes.Buffer
	for _, m := range mods {
		var devname string
		haveName := false
		var typ byte
		var major, minor uint32
		for _, a := range m.Aliases {
			if rest, ok := strings.CutPrefix(a, "devname:"); ok {
				devname, haveName = rest, true
			} else if ma, mi, ok := scanMajorMinor(a, "char-major-"); ok {
				typ, major, minor = 'c', ma, mi
			} else if ma, mi, ok := scanMajorMinor(a, "block-major-"); ok {
				typ, major, minor = 'b', ma, mi
			}
			if typ != 0 && haveName {
				break
			}
		}
		if !haveName {
			continue
		}
		if typ == 0 {
			r.log.errorf("Module '%s' has devname (%s) but lacks major and minor information. Ignoring.", m.Name, devname)
			continue
		}
		if b.Len() == 0 {
			b.WriteString("# Device nodes to trigger on-demand module loading.\n")
		}
		fmt.Fprintf(&b, "%s %s %c%d:%d\n", m.Name, devname, typ, major, minor)
	}
	return b.Bytes()
}

// scanMajorMinor reads s as sscanf(s, PREFIX "%u-%u") == 2 does.
func scanMajorMinor(s, prefix string) (uint32, uint32, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, 0, false
	}
	ma, rest, ok := scanUint(rest)
	if !ok || !strings.HasPrefix(rest, "-") {
		return 0, 0, false
	}
	mi, _, ok := scanUint(rest[1:])
	return ma, mi, ok
}

// scanUint reads a %u conversion: blanks, an optional sign, digits; the
// value is strtoul's, truncated to 32 bits.
func scanUint(s string) (uint32, string, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n == 0 {
		return 0, s, false
	}
	v, err := strconv.ParseUint(s[:n], 10, 64)
	if err != nil {
		v = ^uint64(0)
	}
	if neg {
		v = -v
	}
	return uint32(v), s[n:], true
}
