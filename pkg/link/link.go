package link

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/gokmod/gokmod/pkg/ksym"
	"github.com/gokmod/gokmod/pkg/modfile"
)

// Config is what linking needs besides the module.
type Config struct {
	// Sections gives the address of each allocated section by name, as
	// /sys/module/NAME/sections lists them or Layout chooses them.
	Sections map[string]uint64
	// Symbols resolves the module's undefined symbols: the kernel's and
	// loaded modules' exports (kallsyms, or a System.map plus module
	// exports added to it).
	Symbols *ksym.Table
	// CPU says which of the kernel's post-link rewrites apply, so that
	// Patches can say what they produce.
	CPU CPU
}

// Section is an allocated section of the module.
type Section struct {
	Index  int
	Name   string
	Type   elf.SectionType
	Flags  elf.SectionFlag
	Addr   uint64
	Size   uint64
	Init   bool   // an .init section, freed once the module's init returns
	Before []byte // the contents in the file (nil for SHT_NOBITS)
	After  []byte // the contents once linked (nil for SHT_NOBITS)
}

// Reloc is one relocation the kernel applies.
type Reloc struct {
	Section string       // the section it patches
	Offset  uint64       // where, from the section's start
	Addr    uint64       // where, as an address (the "place", P)
	Type    elf.R_X86_64 // R_X86_64_PLT32, ...
	Symbol  string       // the symbol it names; a section symbol by its section's name
	SymAddr uint64       // the symbol's resolved value (S)
	Addend  int64        // A
	Value   uint64       // what is written: S+A, or S+A-P for PC-relative types
	Size    int          // bytes written: 0 (R_X86_64_NONE), 4 or 8
	Before  []byte       // the field in the file
	After   []byte       // the field once linked
	Init    bool         // in an .init section
	Import  *Import      // the import it uses, for an undefined symbol
}

// Import is an undefined symbol and what it resolved to.
type Import struct {
	Name    string
	Addr    uint64
	Module  string // the exporting module; "" for the kernel
	GPLOnly bool   // exported with EXPORT_SYMBOL_GPL
	Weak    bool
	Found   bool // false only for a weak symbol nothing defines (it is 0)
}

// Symbol is a symbol the module defines, at its linked address.
type Symbol struct {
	Name    string
	Addr    uint64
	Size    uint64
	Section string
	Func    bool
}

// Image is a linked module.
type Image struct {
	Module   string // the module's name
	License  string
	Kernel   string     // the vermagic's kernel release
	Sections []*Section // the allocated sections, in file order
	Relocs   []Reloc    // in file order
	Imports  []Import   // in symbol table order
	Symbols  []Symbol   // sorted by address
	Patches  []Patch    // sorted by address
	// ByName is set when the symbol table lists no exports (a kallsyms
	// without CONFIG_KALLSYMS_ALL, a System.map without __ksymtab_
	// entries): imports were then resolved by name, without the
	// exported-only and GPL-only rules.
	ByName bool

	names []string // every section's name, by index
}

// Section returns the allocated section called name.
func (im *Image) Section(name string) *Section {
	for _, s := range im.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// SectionAt returns the allocated, non-empty section holding addr.
func (im *Image) SectionAt(addr uint64) *Section {
	for _, s := range im.Sections {
		if s.Size > 0 && addr >= s.Addr && addr-s.Addr < s.Size {
			return s
		}
	}
	return nil
}

// PatchesAt returns the patches overlapping [addr, addr+n).
func (im *Image) PatchesAt(addr uint64, n int) []Patch {
	var out []Patch
	for _, p := range im.Patches {
		if p.Addr < addr+uint64(n) && addr < p.Addr+uint64(p.Len) {
			out = append(out, p)
		}
	}
	return out
}

// SymbolAt names addr with the module's own symbols: the function or
// object containing it, else the nearest one below it in the same section.
func (im *Image) SymbolAt(addr uint64) (Symbol, uint64, bool) {
	i := sort.Search(len(im.Symbols), func(i int) bool { return im.Symbols[i].Addr > addr })
	in := im.SectionAt(addr)
	for i--; i >= 0; i-- {
		s := im.Symbols[i]
		switch {
		case s.Size > 0 && addr-s.Addr < s.Size:
			return s, addr - s.Addr, true
		case s.Size > 0:
			return Symbol{}, 0, false // past the end of the nearest sized symbol
		case in != nil && in.Name == s.Section:
			return s, addr - s.Addr, true // a label, in the same section
		}
	}
	return Symbol{}, 0, false
}

// notLoaded are allocated sections the kernel does not keep in the
// module's memory: it clears SHF_ALLOC of .modinfo and __versions, and
// copies .data..percpu into the per-CPU area.
func notLoaded(name string) bool {
	return name == ".modinfo" || name == "__versions" || name == ".data..percpu"
}

// shfRelaLivepatch marks relocation sections that livepatch applies later.
const shfRelaLivepatch = 0x00100000

// shnLivepatch marks symbols livepatch resolves.
const shnLivepatch = 0xff20

// Open opens the module file at path and links it. Errors name the file.
func Open(path string, cfg Config) (*Image, error) {
	f, err := modfile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	im, err := Link(f, cfg)
	if err != nil {
		return im, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

// Link links the module f. On a refusal the kernel would make it returns
// the partly built Image (sections and imports, as far as it got) with a
// *KernelError.
func Link(f *modfile.File, cfg Config) (im *Image, err error) {
	// A module is untrusted input: a slip in the checks below must not
	// crash the caller.
	defer func() {
		if r := recover(); r != nil {
			im, err = nil, fmt.Errorf("%w: %v", ErrBadModule, r)
		}
	}()
	if f.Class() != modfile.Class64 || f.ByteOrder() != binary.ByteOrder(binary.LittleEndian) || elf.Machine(f.Machine()) != elf.EM_X86_64 {
		return nil, fmt.Errorf("%w (ELF class %d, machine %d)", ErrMachine, f.Class(), f.Machine())
	}
	img, err := f.Image()
	if err != nil {
		return nil, err
	}
	im = &Image{}
	if info, err := f.Info(); err == nil {
		im.License = info.License()
		if fs := strings.Fields(info.Vermagic()); len(fs) > 0 {
			im.Kernel = fs[0]
		}
	}
	if im.Module, err = f.Name(); err != nil {
		return nil, err
	}
	secs := f.Sections()
	for _, s := range secs {
		im.names = append(im.names, s.Name)
	}
	byIndex := make(map[int]*Section)
	for i, s := range secs {
		if i == 0 || elf.SectionFlag(s.Flags)&elf.SHF_ALLOC == 0 || notLoaded(s.Name) {
			continue
		}
		sec := &Section{Index: i, Name: s.Name, Type: elf.SectionType(s.Type), Flags: elf.SectionFlag(s.Flags),
			Size: s.Size, Init: strings.HasPrefix(s.Name, ".init")}
		if sec.Type != elf.SHT_NOBITS { // .bss holds nothing to link or show
			if s.Offset > uint64(len(img)) || s.Size > uint64(len(img))-s.Offset {
				return nil, fmt.Errorf("section %s: %w", s.Name, modfile.ErrTruncated)
			}
			sec.Before = img[s.Offset : s.Offset+s.Size : s.Offset+s.Size]
		}
		sec.After = bytes.Clone(sec.Before)
		addr, ok := cfg.Sections[s.Name]
		if !ok && s.Size > 0 {
			return nil, fmt.Errorf("%s: %w", s.Name, ErrNoAddress)
		}
		sec.Addr = addr
		im.Sections = append(im.Sections, sec)
		byIndex[i] = sec
	}
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	values, err := im.simplify(syms, secs, byIndex, cfg)
	if err != nil {
		return im, err
	}
	for i, s := range syms {
		typ := elf.ST_TYPE(s.Info)
		sec, ok := byIndex[int(s.Section)]
		if !ok || s.Name == "" || (typ != elf.STT_FUNC && typ != elf.STT_OBJECT && typ != elf.STT_NOTYPE) {
			continue
		}
		im.Symbols = append(im.Symbols, Symbol{Name: s.Name, Addr: values[i+1], Size: s.Size, Section: sec.Name, Func: typ == elf.STT_FUNC})
	}
	sort.SliceStable(im.Symbols, func(i, j int) bool { return im.Symbols[i].Addr < im.Symbols[j].Addr })
	if err := im.relocate(img, syms, secs, byIndex, values); err != nil {
		return im, err
	}
	im.Patches = findPatches(im, cfg.CPU)
	return im, nil
}

// gplCompatible is the kernel's license_is_gpl_compatible.
func gplCompatible(license string) bool {
	switch license {
	case "GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL":
		return true
	}
	return false
}

// simplify gives every symbol its value, as the kernel's simplify_symbols
// does; values[i] is the value of the symbol with index i (0 for the
// null symbol).
func (im *Image) simplify(syms []elf.Symbol, secs []modfile.Section, byIndex map[int]*Section, cfg Config) ([]uint64, error) {
	values := make([]uint64, len(syms)+1)
	gplOK := gplCompatible(im.License)
	im.ByName = cfg.Symbols == nil || !cfg.Symbols.HasExports()
	var refusals []string
	var first error
	refuse := func(sentinel error, format string, a ...any) {
		refusals = append(refusals, fmt.Sprintf(format, a...))
		if first == nil {
			first = sentinel
		}
	}
	for i, s := range syms {
		v := &values[i+1]
		switch {
		case s.Section == elf.SHN_COMMON:
			refuse(ErrCommon, "%s: please compile with -fno-common", im.Module)
		case s.Section == elf.SHN_ABS || s.Section == shnLivepatch:
			*v = s.Value
		case s.Section == elf.SHN_UNDEF:
			if s.Name == "" {
				continue
			}
			imp := Import{Name: s.Name, Weak: elf.ST_BIND(s.Info) == elf.STB_WEAK}
			exp, ok, gplRefused := resolve(cfg.Symbols, s.Name, gplOK)
			if ok {
				imp.Addr, imp.Module, imp.GPLOnly, imp.Found = exp.Addr, exp.Module, exp.GPLOnly, true
			} else if !imp.Weak {
				msg := fmt.Sprintf("%s: Unknown symbol %s (err -2)", im.Module, s.Name)
				if gplRefused {
					msg += fmt.Sprintf(" [%s is exported GPL-only and the license %q is not GPL-compatible]", s.Name, im.License)
				}
				refuse(ErrUnknownSymbol, "%s", msg)
			}
			*v = imp.Addr
			im.Imports = append(im.Imports, imp)
		case int(s.Section) < len(secs):
			sec, ok := byIndex[int(s.Section)]
			if !ok && secs[s.Section].Name == ".data..percpu" {
				addr, has := cfg.Sections[".data..percpu"]
				if !has {
					return nil, fmt.Errorf("symbol %s is per-CPU: %w", s.Name, ErrNoAddress)
				}
				*v = addr + s.Value
				continue
			}
			if ok {
				*v = sec.Addr + s.Value
			} else {
				*v = s.Value // a section the kernel does not keep: its address is meaningless
			}
		default:
			return nil, fmt.Errorf("%w: symbol %s in section %d of %d", ErrBadModule, s.Name, s.Section, len(secs))
		}
	}
	if first != nil {
		return nil, &KernelError{Msg: strings.Join(refusals, "\n"), Err: first}
	}
	return values, nil
}

// resolve finds name as the kernel's resolve_symbol does: among the
// kernel's exports, then loaded modules'; a GPL-only export is invisible
// to a module whose license is not GPL-compatible. A table without export
// information resolves by name.
func resolve(t *ksym.Table, name string, gplOK bool) (ksym.Export, bool, bool) {
	if t == nil {
		return ksym.Export{}, false, false
	}
	if !t.HasExports() {
		s, ok := t.Lookup(name)
		return ksym.Export{Symbol: s}, ok, false
	}
	e, ok := t.Export(name)
	if ok && e.GPLOnly && !gplOK {
		return ksym.Export{}, false, true
	}
	return e, ok, false
}

const relaSize = 24

func (im *Image) relocate(img []byte, syms []elf.Symbol, secs []modfile.Section, byIndex map[int]*Section, values []uint64) error {
	imports := make(map[string]*Import, len(im.Imports))
	for i := range im.Imports {
		imports[im.Imports[i].Name] = &im.Imports[i]
	}
	for _, rs := range secs {
		if elf.SectionType(rs.Type) != elf.SHT_RELA && elf.SectionType(rs.Type) != elf.SHT_REL {
			continue
		}
		target, ok := byIndex[int(rs.Info)]
		if !ok || rs.Flags&shfRelaLivepatch != 0 {
			continue
		}
		if elf.SectionType(rs.Type) == elf.SHT_REL {
			return kerr(ErrREL, "module %s: REL relocation unsupported", im.Module)
		}
		if rs.Offset > uint64(len(img)) || rs.Size > uint64(len(img))-rs.Offset {
			return fmt.Errorf("section %s: %w", rs.Name, modfile.ErrTruncated)
		}
		data := img[rs.Offset : rs.Offset+rs.Size]
		for off := 0; off+relaSize <= len(data); off += relaSize {
			r, err := im.apply(data[off:off+relaSize], target, syms, values, imports)
			if err != nil {
				return err
			}
			im.Relocs = append(im.Relocs, r)
		}
	}
	return nil
}

func (im *Image) apply(ent []byte, target *Section, syms []elf.Symbol, values []uint64, imports map[string]*Import) (Reloc, error) {
	le := binary.LittleEndian
	off, info, addend := le.Uint64(ent), le.Uint64(ent[8:]), int64(le.Uint64(ent[16:]))
	symIdx, typ := info>>32, elf.R_X86_64(uint32(info))
	if symIdx > uint64(len(syms)) {
		return Reloc{}, fmt.Errorf("%w: relocation of %s+%#x names symbol %d of %d", ErrBadModule, target.Name, off, symIdx, len(syms))
	}
	r := Reloc{Section: target.Name, Offset: off, Addr: target.Addr + off, Type: typ, Addend: addend,
		SymAddr: values[symIdx], Init: target.Init}
	if symIdx > 0 {
		s := &syms[symIdx-1]
		r.Symbol = s.Name
		if elf.ST_TYPE(s.Info) == elf.STT_SECTION && int(s.Section) < len(im.names) {
			r.Symbol = im.names[s.Section]
		}
		if s.Section == elf.SHN_UNDEF {
			r.Import = imports[s.Name]
		}
	}
	val := r.SymAddr + uint64(addend)
	switch typ {
	case elf.R_X86_64_NONE:
		return r, nil
	case elf.R_X86_64_64:
		r.Size = 8
	case elf.R_X86_64_32:
		if val != uint64(uint32(val)) {
			return r, overflow(im.Module, typ, val)
		}
		r.Size = 4
	case elf.R_X86_64_32S:
		if int64(val) != int64(int32(val)) {
			return r, overflow(im.Module, typ, val)
		}
		r.Size = 4
	case elf.R_X86_64_PC32, elf.R_X86_64_PLT32:
		val -= r.Addr
		r.Size = 4
	case elf.R_X86_64_PC64:
		val -= r.Addr
		r.Size = 8
	default:
		return r, kerr(ErrUnknownReloc, "%s: Unknown rela relocation: %d", im.Module, uint32(typ))
	}
	r.Value = val
	if off > uint64(len(target.After)) || uint64(len(target.After))-off < uint64(r.Size) {
		return r, fmt.Errorf("%w: relocation at %s+%#x writes %d bytes past the section's %d", ErrBadModule, target.Name, off, r.Size, target.Size)
	}
	field := target.After[off : off+uint64(r.Size)]
	if !allZero(field) {
		return r, kerr(ErrNonzero, "x86/modules: Invalid relocation target, existing value is nonzero for type %d, loc %#x, val %x",
			uint32(typ), r.Addr, val)
	}
	r.Before = bytes.Clone(target.Before[off : off+uint64(r.Size)])
	if r.Size == 8 {
		le.PutUint64(field, val)
	} else {
		le.PutUint32(field, uint32(val))
	}
	r.After = bytes.Clone(field)
	return r, nil
}

func overflow(module string, typ elf.R_X86_64, val uint64) error {
	return kerr(ErrOverflow, "overflow in relocation type %d val %x\n`%s' likely not compiled with -mcmodel=kernel", uint32(typ), val, module)
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
