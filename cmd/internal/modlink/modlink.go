package modlink

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gokmod/gokmod/cmd/internal/cliapp"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/ksym"
	"github.com/gokmod/gokmod/pkg/link"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

// Main runs gomodlink.
func Main(env *tool.Env) int { return runIn(env, os.DirFS("/")) }

// runIn runs gomodlink on the system whose "/" is root.
func runIn(env *tool.Env, root fs.FS) int {
	return cliapp.Run(env, newApp(env, root), 1)
}

func newApp(env *tool.Env, root fs.FS) *cli.App {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print every relocation site and post-link patch as JSON"},
		&cli.StringFlag{Name: "system-map", Aliases: []string{"m"}, Usage: "offline: kernel symbols from `FILE` (a System.map or a saved /proc/kallsyms)"},
		&cli.StringFlag{Name: "base", Usage: "offline: lay the sections out from `ADDR`", Value: fmt.Sprintf("%#x", uint64(link.DefaultBase))},
		&cli.StringSliceFlag{Name: "section", Usage: "offline: put section NAME at ADDR (`NAME=ADDR`, repeatable)"},
		&cli.StringSliceFlag{Name: "with", Usage: "offline: a module `FILE` loaded before this one whose exports it may use (repeatable)"},
		&cli.StringFlag{Name: "cpu", Usage: "what the kernel's rewrites depend on: `LIST` of rethunk, retpoline, calldepth, ibt, ftrace, or none (live default: from /sys/devices/system/cpu/vulnerabilities; offline: none)"},
	}
	return cliapp.New(env, "show how the kernel links a module: code before and after, relocations, post-link patches",
		"MODULE.ko [FUNCTION...]", flags, func(c *cli.Context) error { return run(c, env, root) })
}

// source is where addresses and symbols come from.
type source struct {
	desc     string
	sections map[string]uint64
	syms     *ksym.Table
	cpu      link.CPU
}

func run(c *cli.Context, env *tool.Env, root fs.FS) error {
	if c.NArg() == 0 {
		env.Errorf("missing module file.")
		return tool.Exit(1)
	}
	path := c.Args().First()
	f, err := modfile.Open(path)
	if err != nil {
		env.Errorf("%v", err)
		return tool.Exit(1)
	}
	defer f.Close()
	var src source
	if c.IsSet("system-map") || c.IsSet("section") || c.IsSet("with") || c.IsSet("base") {
		src, err = offline(c, f)
	} else {
		src, err = live(f, root)
	}
	if err != nil {
		env.Errorf("%s: %v", path, err)
		if errors.Is(err, sysmod.ErrNotLoaded) {
			env.Hintf("load it first (goinsmod %s), or link it offline: --system-map FILE [--base ADDR]", path)
		}
		if errors.Is(err, sysmod.ErrHidden) || errors.Is(err, ksym.ErrHidden) {
			env.Hintf("the kernel shows addresses to root only: run as root")
		}
		return tool.Exit(1)
	}
	if c.IsSet("cpu") {
		if src.cpu, err = link.ParseCPU(c.String("cpu")); err != nil {
			env.Errorf("--cpu: %v", err)
			return tool.Exit(1)
		}
	}
	im, err := link.Link(f, link.Config{Sections: src.sections, Symbols: src.syms, CPU: src.cpu})
	if err != nil {
		var ke *link.KernelError
		if errors.As(err, &ke) {
			// One line per line the kernel would log.
			for i, l := range strings.Split(ke.Msg, "\n") {
				if i == 0 {
					env.Errorf("%s: the kernel would refuse it: %s", path, l)
				} else {
					env.Errorf("%s: %s", path, l)
				}
			}
		} else {
			env.Errorf("%s: %v", path, err)
		}
		return tool.Exit(1)
	}
	if c.Bool("json") {
		return writeJSON(env.Stdout, path, src, im)
	}
	fns, err := functions(im, c.Args().Tail())
	if err != nil {
		env.Errorf("%s: %v", path, err)
		return tool.Exit(1)
	}
	return writeText(env.Stdout, path, src, im, fns)
}

func live(f *modfile.File, root fs.FS) (source, error) {
	name, err := f.Name()
	if err != nil {
		return source{}, err
	}
	secs, err := sysmod.Sections(root, name)
	if err != nil {
		return source{}, err
	}
	r, err := root.Open("proc/kallsyms")
	if err != nil {
		return source{}, err
	}
	defer r.Close()
	syms, err := ksym.Parse(r)
	if err != nil {
		return source{}, fmt.Errorf("/proc/kallsyms: %w", err)
	}
	return source{desc: "loaded: sections from /sys/module/" + name + "/sections, symbols from /proc/kallsyms",
		sections: secs, syms: syms, cpu: link.DetectCPU(root)}, nil
}

func parseAddr(s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("bad address %q (want hex, e.g. 0xffffffffc0000000)", s)
	}
	return v, nil
}

func offline(c *cli.Context, f *modfile.File) (source, error) {
	if !c.IsSet("system-map") {
		return source{}, errors.New("offline linking needs kernel symbols: --system-map FILE")
	}
	syms, err := ksym.Open(c.String("system-map"))
	if err != nil {
		return source{}, err
	}
	base, err := parseAddr(c.String("base"))
	if err != nil {
		return source{}, err
	}
	secs := link.Layout(f, base)
	for _, kv := range c.StringSlice("section") {
		name, addr, ok := strings.Cut(kv, "=")
		if !ok {
			return source{}, fmt.Errorf("--section %q: want NAME=ADDR", kv)
		}
		if secs[name], err = parseAddr(addr); err != nil {
			return source{}, err
		}
	}
	next := end(secs)
	for _, path := range c.StringSlice("with") {
		if next, err = addModule(syms, path, next); err != nil {
			return source{}, err
		}
	}
	return source{desc: fmt.Sprintf("offline: sections laid out from %#x, symbols from %s", base, c.String("system-map")),
		sections: secs, syms: syms}, nil
}

// end is the first page after the highest section start.
func end(secs map[string]uint64) uint64 {
	var hi uint64
	for _, a := range secs {
		hi = max(hi, a)
	}
	return (hi + 2*4096) &^ 4095
}

// addModule lays a module out at base and adds its exports to syms.
func addModule(syms *ksym.Table, path string, base uint64) (uint64, error) {
	m, err := modfile.Open(path)
	if err != nil {
		return 0, err
	}
	defer m.Close()
	name, err := m.Name()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	secs := link.Layout(m, base)
	all, err := m.Symbols()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	exps, err := m.ExportedSymbols()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	sections := m.Sections()
	for _, e := range exps {
		for _, s := range all {
			if s.Name != e.Name || int(s.Section) >= len(sections) || s.Section == 0 {
				continue
			}
			addr := secs[sections[s.Section].Name] + s.Value
			syms.AddExport(ksym.Export{Symbol: ksym.Symbol{Addr: addr, Type: 'T', Name: e.Name, Module: name}, GPLOnly: e.GPLOnly})
		}
	}
	return end(secs), nil
}

// functions picks the functions to show: those named, or every function
// of the module with code, in address order.
func functions(im *link.Image, names []string) ([]link.Symbol, error) {
	var out []link.Symbol
	if len(names) == 0 {
		seen := make(map[uint64]bool)
		for _, s := range im.Symbols {
			if s.Func && s.Size > 0 && !seen[s.Addr] { // init_module is an alias of the module_init function
				seen[s.Addr] = true
				out = append(out, s)
			}
		}
		return out, nil
	}
	for _, n := range names {
		found := false
		for _, s := range im.Symbols {
			if s.Name == n && s.Size > 0 {
				out, found = append(out, s), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no function %s in module %s", n, im.Module)
		}
	}
	return out, nil
}

// namer names addresses with the module's symbols, then the kernel's.
func namer(im *link.Image, syms *ksym.Table) link.Namer {
	return func(addr uint64) string {
		if s, off, ok := im.SymbolAt(addr); ok {
			return withOffset(s.Name, off)
		}
		if s := im.SectionAt(addr); s != nil {
			return withOffset(s.Name, addr-s.Addr)
		}
		if s, off, ok := syms.At(addr); ok && off < 1<<20 {
			return withOffset(s.Name, off)
		}
		return ""
	}
}

func withOffset(name string, off uint64) string {
	if off == 0 {
		return name
	}
	return fmt.Sprintf("%s+%#x", name, off)
}

func hexBytes(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

func relocText(r link.Reloc) string {
	s := fmt.Sprintf("%s %s", r.Type.String(), r.Symbol)
	if r.Addend != 0 {
		s += fmt.Sprintf("%+#x", r.Addend)
	}
	return s
}

func writeText(w io.Writer, path string, src source, im *link.Image, fns []link.Symbol) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s: module %s, %s; CPU: %s\n", path, im.Module, src.desc, src.cpu)
	if im.ByName {
		b.WriteString("  (the symbols list no exports: imports resolved by name, without the GPL-only rule)\n")
	}
	b.WriteString("  - as in the file (addresses are offsets in the section), with each relocation\n" +
		"  + as the kernel links it\n" +
		"  ! what the kernel writes there after linking\n")
	name := namer(im, src.syms)
	for _, fn := range fns {
		lines, err := im.Disassemble(fn, name)
		if err != nil {
			return err
		}
		nrel, npatch := 0, 0
		for _, l := range lines {
			nrel += len(l.Relocs)
			if len(l.Patches) > 0 {
				npatch++
			}
		}
		fmt.Fprintf(&b, "\n%s (%s+%#x at %#x, %d bytes): %d relocations, %d instructions rewritten after linking\n",
			fn.Name, fn.Section, fn.Addr-im.Section(fn.Section).Addr, fn.Addr, fn.Size, nrel, npatch)
		secOff := fn.Addr - im.Section(fn.Section).Addr
		for _, l := range lines {
			where := fmt.Sprintf("%#x <+%d>", l.Addr, l.Offset)
			if len(l.Relocs) == 0 && len(l.Patches) == 0 {
				fmt.Fprintf(&b, "  %-28s %-24s %s\n", where, hexBytes(l.After), l.AfterText)
				continue
			}
			if len(l.Relocs) > 0 {
				var rs []string
				for _, r := range l.Relocs {
					rs = append(rs, relocText(r))
				}
				fmt.Fprintf(&b, "- %-28s %-24s %-40s %s\n", fmt.Sprintf("%#x", secOff+l.Offset), hexBytes(l.Before), l.BeforeText, strings.Join(rs, ", "))
				fmt.Fprintf(&b, "+ %-28s %-24s %s\n", where, hexBytes(l.After), l.AfterText)
			} else {
				fmt.Fprintf(&b, "  %-28s %-24s %s\n", where, hexBytes(l.After), l.AfterText)
			}
			for _, p := range l.Patches {
				if p.Kind == link.KernelData {
					continue
				}
				if l.Patched != nil {
					fmt.Fprintf(&b, "! %-28s %-24s %-40s %s\n", where, hexBytes(l.Patched), l.PatchedText, p.Note)
				} else {
					fmt.Fprintf(&b, "! %-28s %-24s %-40s %s\n", where, "", "(not predicted)", p.Note)
				}
				if l.Patched != nil {
					break
				}
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

type jsonReloc struct {
	Section     string   `json:"section"`
	Offset      uint64   `json:"offset"`
	Address     string   `json:"address"`
	Type        string   `json:"type"`
	Symbol      string   `json:"symbol"`
	Addend      int64    `json:"addend"`
	SymbolValue string   `json:"symbol_value"`
	Value       string   `json:"value"`
	Size        int      `json:"size"`
	Before      string   `json:"before"`
	Bytes       string   `json:"bytes"`
	Init        bool     `json:"init,omitempty"`
	From        string   `json:"from,omitempty"`
	PatchedBy   []string `json:"patched_by,omitempty"`
	Final       string   `json:"final,omitempty"`
}

type jsonPatch struct {
	Kind    string  `json:"kind"`
	Section string  `json:"section"`
	Offset  uint64  `json:"offset"`
	Address string  `json:"address"`
	Length  int     `json:"length"`
	Becomes *string `json:"becomes"`
	Note    string  `json:"note"`
}

type jsonSection struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Size    uint64 `json:"size"`
	Init    bool   `json:"init,omitempty"`
}

type jsonImport struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Module  string `json:"module,omitempty"`
	GPLOnly bool   `json:"gpl_only,omitempty"`
	Weak    bool   `json:"weak,omitempty"`
}

type jsonOut struct {
	File        string        `json:"file"`
	Module      string        `json:"module"`
	Source      string        `json:"source"`
	CPU         string        `json:"cpu"`
	Sections    []jsonSection `json:"sections"`
	Imports     []jsonImport  `json:"imports"`
	Relocations []jsonReloc   `json:"relocations"`
	Patches     []jsonPatch   `json:"patches"`
}

func hx(v uint64) string { return fmt.Sprintf("%#x", v) }

func writeJSON(w io.Writer, path string, src source, im *link.Image) error {
	out := jsonOut{File: path, Module: im.Module, Source: src.desc, CPU: src.cpu.String(),
		Sections: []jsonSection{}, Imports: []jsonImport{}, Relocations: []jsonReloc{}, Patches: []jsonPatch{}}
	for _, s := range im.Sections {
		if s.Size == 0 {
			continue // the kernel lists empty sections nowhere
		}
		out.Sections = append(out.Sections, jsonSection{s.Name, hx(s.Addr), s.Size, s.Init})
	}
	sort.SliceStable(out.Sections, func(i, j int) bool { return out.Sections[i].Address < out.Sections[j].Address })
	for _, i := range im.Imports {
		out.Imports = append(out.Imports, jsonImport{i.Name, hx(i.Addr), i.Module, i.GPLOnly, i.Weak})
	}
	for _, r := range im.Relocs {
		jr := jsonReloc{Section: r.Section, Offset: r.Offset, Address: hx(r.Addr), Type: r.Type.String(), Symbol: r.Symbol,
			Addend: r.Addend, SymbolValue: hx(r.SymAddr), Value: hx(r.Value), Size: r.Size,
			Before: hex.EncodeToString(r.Before), Bytes: hex.EncodeToString(r.After), Init: r.Init}
		if r.Import != nil {
			jr.From = r.Import.Module
			if jr.From == "" {
				jr.From = "vmlinux"
			}
		}
		ps := im.PatchesAt(r.Addr, max(r.Size, 1))
		final := bytes.Clone(r.After)
		for _, p := range ps {
			jr.PatchedBy = append(jr.PatchedBy, string(p.Kind))
			if final != nil && p.Becomes == nil {
				final = nil
			}
			for i := range final {
				if a := r.Addr + uint64(i); p.Becomes != nil && a >= p.Addr && a-p.Addr < uint64(len(p.Becomes)) {
					final[i] = p.Becomes[a-p.Addr]
				}
			}
		}
		if len(ps) > 0 && final != nil {
			jr.Final = hex.EncodeToString(final)
		}
		out.Relocations = append(out.Relocations, jr)
	}
	for _, p := range im.Patches {
		jp := jsonPatch{Kind: string(p.Kind), Section: p.Section, Offset: p.Offset, Address: hx(p.Addr), Length: p.Len, Note: p.Note}
		if p.Becomes != nil {
			s := hex.EncodeToString(p.Becomes)
			jp.Becomes = &s
		}
		out.Patches = append(out.Patches, jp)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
