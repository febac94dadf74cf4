package link

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// CPU describes what the kernel's post-link rewrites depend on. The zero
// value is a CPU that needs no mitigation with ftrace idle, which is what
// QEMU's TCG CPU gets from Debian's kernels.
type CPU struct {
	// ReturnThunk is set when the kernel uses return thunks
	// (X86_FEATURE_RETHUNK, for retbleed or SRSO): return sites then stay
	// jumps, to the thunk the kernel chose. Otherwise each becomes
	// "ret; int3...".
	ReturnThunk bool
	// Retpoline is set when spectre_v2 is mitigated with retpolines:
	// indirect calls through __x86_indirect_thunk_* stay as they are.
	// Otherwise the kernel rewrites them into indirect calls. Likewise
	// .call_sites (CallDepth) and .ibt_endbr_seal (IBT) are only rewritten
	// when their feature is on.
	Retpoline bool
	// CallDepth is set with call depth tracking (retbleed=stuff).
	CallDepth bool
	// IBT is set when the CPU enforces indirect branch tracking, so the
	// kernel seals unused endbr64 instructions.
	IBT bool
	// FtraceActive is set while ftrace traces module functions: their
	// call sites then call a trampoline instead of being nops.
	FtraceActive bool
}

// PatchKind names a post-link rewrite.
type PatchKind string

// The rewrites the kernel makes after linking, by the section that lists
// their sites.
const (
	Ftrace      PatchKind = "ftrace"       // __mcount_loc: call __fentry__
	ReturnThunk PatchKind = "return-thunk" // .return_sites: jmp __x86_return_thunk
	Retpoline   PatchKind = "retpoline"    // .retpoline_sites: call __x86_indirect_thunk_*
	CallDepth   PatchKind = "call-depth"   // .call_sites
	EndbrSeal   PatchKind = "ibt-seal"     // .ibt_endbr_seal: endbr64
	Alternative PatchKind = "alternative"  // .altinstructions
	Paravirt    PatchKind = "paravirt"     // .parainstructions (Linux 6.1)
	StaticCall  PatchKind = "static-call"  // .static_call_sites
	JumpLabel   PatchKind = "jump-label"   // __jump_table
	SMPLock     PatchKind = "smp-lock"     // .smp_locks: lock prefixes on a one-CPU machine
	KernelData  PatchKind = "kernel-data"  // tables the kernel sorts or owns after load
)

// Patch is a place the kernel rewrites after linking.
type Patch struct {
	Kind    PatchKind
	Section string
	Offset  uint64
	Addr    uint64
	Len     int
	Becomes []byte // the bytes the kernel writes; nil when they cannot be predicted
	Note    string // what the kernel does there
}

// The bytes the kernel writes.
var (
	nop5    = []byte{0x0f, 0x1f, 0x44, 0x00, 0x00} // x86_nops[5]: nopl 0x0(%rax,%rax,1)
	retInt3 = []byte{0xc3, 0xcc, 0xcc, 0xcc, 0xcc} // ret; int3; int3; int3; int3
)

// sortedTables are sections the kernel sorts in place at load (or, for
// struct module, takes over), so their relocated fields move.
var sortedTables = map[string]string{
	"__ex_table":                "sorted by sort_extable at load",
	"__jump_table":              "sorted by jump_label_sort_entries at load",
	".static_call_sites":        "sorted by static_call_sort_entries at load",
	".orc_unwind_ip":            "sorted by unwind_module_init at load",
	".orc_unwind":               "sorted by unwind_module_init at load",
	"__mcount_loc":              "sorted by ftrace_process_locs at load",
	".gnu.linkonce.this_module": "struct module: the kernel fills it in and keeps it",
}

// findPatches lists the sites the kernel rewrites after linking.
func findPatches(im *Image, cpu CPU) []Patch {
	var ps []Patch
	add := func(kind PatchKind, addr uint64, n int, becomes []byte, note string) {
		sec := im.SectionAt(addr)
		if sec == nil || n <= 0 {
			return
		}
		ps = append(ps, Patch{Kind: kind, Section: sec.Name, Offset: addr - sec.Addr, Addr: addr, Len: n, Becomes: becomes, Note: note})
	}
	for _, s := range im.Sections {
		if note, ok := sortedTables[s.Name]; ok && s.Size > 0 {
			var becomes []byte
			switch s.Name {
			case "__mcount_loc":
				becomes = sortedMcount(s.After)
			case ".orc_unwind_ip":
				becomes = im.sortedORC(s)
			case "__ex_table": // {s32 insn, s32 fixup, s32 data}, by insn
				becomes = sortedRel(s, 12, []relField{{0, 4}, {4, 4}}, func(e []uint64) []uint64 { return e[:1] }, nil)
			case "__jump_table": // {s32 code, s32 target, long key}, by key then code
				becomes = sortedRel(s, 16, []relField{{0, 4}, {4, 4}, {8, 8}}, func(e []uint64) []uint64 { return []uint64{e[2] &^ 3, e[0]} },
					func(e []uint64) {
						// jump_label_add_module sets the key's bit 1 for code
						// in the init section and clears it elsewhere.
						e[2] &^= 2
						if sec := im.SectionAt(e[0]); sec != nil && sec.Init {
							e[2] |= 2
						}
					})
			case ".static_call_sites": // {s32 addr, s32 key}, by key then addr
				becomes = sortedRel(s, 8, []relField{{0, 4}, {4, 4}}, func(e []uint64) []uint64 { return []uint64{e[1] &^ 3, e[0]} }, nil)
			}
			ps = append(ps, Patch{Kind: KernelData, Section: s.Name, Addr: s.Addr, Len: int(s.Size), Becomes: becomes, Note: note})
		}
	}
	if s := im.Section("__mcount_loc"); s != nil {
		for i := 0; i+8 <= len(s.After); i += 8 {
			site := binary.LittleEndian.Uint64(s.After[i:])
			if cpu.FtraceActive {
				add(Ftrace, site, 5, nil, "ftrace call site: calls the ftrace trampoline while traced")
			} else {
				add(Ftrace, site, 5, nop5, "ftrace call site: nopl 0x0(%rax,%rax,1) while ftrace is idle")
			}
		}
	}
	for _, site := range im.rel32Table(".return_sites", 4) {
		b := im.bytesAt(site, 6)
		switch {
		case len(b) >= 5 && b[0] == 0xe9 && !cpu.ReturnThunk:
			add(ReturnThunk, site, 5, retInt3, "return thunk: ret; int3 (the CPU needs no return thunk)")
		case len(b) >= 5 && b[0] == 0xe9:
			add(ReturnThunk, site, 5, nil, "return thunk: a jmp to the return thunk the kernel chose")
		default:
			add(ReturnThunk, site, 6, nil, "return thunk: conditional jump to the return thunk")
		}
	}
	// Retpoline, call-depth and IBT sites are left alone unless the
	// mitigation or feature asks for a rewrite.
	if !cpu.Retpoline {
		for _, site := range im.rel32Table(".retpoline_sites", 4) {
			add(Retpoline, site, len(im.bytesAt(site, 5)), nil, "retpoline: rewritten into an indirect call/jmp (no retpoline mitigation)")
		}
	}
	if cpu.CallDepth {
		for _, site := range im.rel32Table(".call_sites", 4) {
			add(CallDepth, site, 5, nil, "call depth tracking: call redirected to the callee's accounting thunk")
		}
	}
	if cpu.IBT {
		for _, site := range im.rel32Table(".ibt_endbr_seal", 4) {
			add(EndbrSeal, site, 4, nil, "IBT: unused endbr64 sealed")
		}
	}
	for _, site := range im.rel32Table(".smp_locks", 4) {
		add(SMPLock, site, 1, nil, "lock prefix: ds on a one-CPU machine")
	}
	im.alternatives(add)
	if s := im.Section(".parainstructions"); s != nil {
		for i := 0; i+16 <= len(s.After); i += 16 {
			add(Paravirt, binary.LittleEndian.Uint64(s.After[i:]), int(s.After[i+9]), nil,
				fmt.Sprintf("paravirt site type %d", s.After[i+8]))
		}
	}
	im.staticCalls(add)
	for i, site := range im.rel32Table("__jump_table", 16) {
		if i%2 == 0 {
			n := 5
			if b := im.bytesAt(site, 2); len(b) == 2 && (b[0] == 0xeb || (b[0] == 0x66 && b[1] == 0x90)) {
				n = 2
			}
			add(JumpLabel, site, n, nil, "jump label: jmp or nop as the static key says")
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Addr < ps[j].Addr })
	return ps
}

// rel32Table reads a section of self-relative 32-bit pointers, stride
// bytes per entry, two per entry when stride is 8 or 16 (the second field
// too), and returns the addresses they point to.
func (im *Image) rel32Table(name string, stride int) []uint64 {
	s := im.Section(name)
	if s == nil {
		return nil
	}
	fields := []int{0}
	if stride > 4 {
		fields = []int{0, 4}
	}
	var out []uint64
	for i := 0; i+stride <= len(s.After); i += stride {
		for _, f := range fields {
			v := int32(binary.LittleEndian.Uint32(s.After[i+f:]))
			out = append(out, s.Addr+uint64(i+f)+uint64(int64(v)))
		}
	}
	return out
}

// bytesAt returns up to n linked bytes at addr, within one section.
func (im *Image) bytesAt(addr uint64, n int) []byte {
	s := im.SectionAt(addr)
	if s == nil {
		return nil
	}
	off := addr - s.Addr
	if off >= uint64(len(s.After)) {
		return nil
	}
	end := min(off+uint64(n), uint64(len(s.After)))
	return append([]byte(nil), s.After[off:end]...)
}

// alternatives lists the .altinstructions sites. struct alt_instr is
// {s32 instr_offset; s32 repl_offset; u16 cpuid; u8 instrlen; u8
// replacementlen} (12 bytes) up to Linux 6.2, with a u32 ft_flags (14
// bytes) from 6.3 on.
func (im *Image) alternatives(add func(PatchKind, uint64, int, []byte, string)) {
	s := im.Section(".altinstructions")
	if s == nil {
		return
	}
	size := 14
	if v := kernelVersion(im.Kernel); (v > 0 && v < 603) || (v == 0 && len(s.After)%14 != 0) {
		size = 12
	}
	le := binary.LittleEndian
	for i := 0; i+size <= len(s.After); i += size {
		instr := s.Addr + uint64(i) + uint64(int64(int32(le.Uint32(s.After[i:]))))
		feature := uint32(le.Uint16(s.After[i+8:]))
		n, repl := s.After[i+size-2], s.After[i+size-1]
		add(Alternative, instr, int(n), nil,
			fmt.Sprintf("alternative: replaced by %d bytes if the CPU has feature %d*32+%d, else its nops optimised", repl, feature&0x7fff/32, feature&0x7fff%32))
	}
}

// kernelVersion turns "6.12.117+deb12-amd64" into 612, or 0.
func kernelVersion(release string) int {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return 0
	}
	major, err1 := strconv.Atoi(parts[0])
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	mn, err2 := strconv.Atoi(minor)
	if err1 != nil || err2 != nil {
		return 0
	}
	return major*100 + mn
}

// sortedMcount is __mcount_loc as ftrace_process_locs leaves it: the call
// site addresses in ascending order.
func sortedMcount(b []byte) []byte {
	if len(b)%8 != 0 {
		return nil
	}
	ips := make([]uint64, len(b)/8)
	for i := range ips {
		ips[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	sort.Slice(ips, func(i, j int) bool { return ips[i] < ips[j] })
	out := make([]byte, 0, len(b))
	for _, ip := range ips {
		out = binary.LittleEndian.AppendUint64(out, ip)
	}
	return out
}

// sortedORC is .orc_unwind_ip as unwind_module_init leaves it: sorted by
// instruction address (each entry a 32-bit offset from itself), an
// "undefined" ORC entry (a section terminator) before a real one at the
// same address. Up to Linux 6.3 undefined means sp_reg ORC_REG_UNDEFINED
// and not end; from 6.4 type ORC_TYPE_UNDEFINED. It returns nil when the
// order cannot be told: equal addresses both (un)defined, or no
// .orc_unwind of the right size.
func (im *Image) sortedORC(s *Section) []byte {
	orc := im.Section(".orc_unwind")
	n := len(s.After) / 4
	if orc == nil || len(s.After)%4 != 0 || len(orc.After) != 6*n {
		return nil
	}
	type entry struct {
		ip        uint64
		undefined bool
	}
	v := kernelVersion(im.Kernel)
	es := make([]entry, n)
	for i := range es {
		es[i].ip = s.Addr + uint64(4*i) + uint64(int64(int32(binary.LittleEndian.Uint32(s.After[4*i:]))))
		flags := binary.LittleEndian.Uint16(orc.After[6*i+4:])
		if v > 0 && v < 604 {
			es[i].undefined = flags&0xf == 0 && flags>>10&1 == 0
		} else {
			es[i].undefined = flags>>8&7 == 0
		}
	}
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].ip != es[j].ip {
			return es[i].ip < es[j].ip
		}
		return es[i].undefined && !es[j].undefined
	})
	out := make([]byte, 0, len(s.After))
	for i, e := range es {
		if i > 0 && es[i-1].ip == e.ip && es[i-1].undefined == e.undefined {
			return nil
		}
		out = binary.LittleEndian.AppendUint32(out, uint32(e.ip-(s.Addr+uint64(4*i))))
	}
	return out
}

// staticCalls lists the .static_call_sites: struct static_call_site {s32
// addr; s32 key;}, the key's low bits flagging a tail call (1) and an
// init-section site (2). static_call_module_init points each call (or
// tail jmp) at the key's current function; for a key the module defines,
// that is the function its struct static_call_key's func field was
// linked to, and the rewrite is predicted.
func (im *Image) staticCalls(add func(PatchKind, uint64, int, []byte, string)) {
	s := im.Section(".static_call_sites")
	if s == nil {
		return
	}
	le := binary.LittleEndian
	for i := 0; i+8 <= len(s.After); i += 8 {
		site := s.Addr + uint64(i) + uint64(int64(int32(le.Uint32(s.After[i:]))))
		keyField := s.Addr + uint64(i+4) + uint64(int64(int32(le.Uint32(s.After[i+4:]))))
		key, tail := keyField&^3, keyField&1 != 0
		op, what := byte(0xe8), "call"
		if tail {
			op, what = 0xe9, "jmp"
		}
		var becomes []byte
		note := "static call: " + what + " to the key's current function"
		if f := im.bytesAt(key, 8); len(f) == 8 {
			// The module's own key: its func as linked. A NULL or
			// return0 function is rewritten to other code; not predicted.
			if fn := le.Uint64(f); im.SectionAt(fn) != nil {
				becomes = binary.LittleEndian.AppendUint32([]byte{op}, uint32(fn-(site+5)))
				if sym, off, ok := im.SymbolAt(fn); ok && off == 0 {
					note = fmt.Sprintf("static call: %s %s, the key's function", what, sym.Name)
				}
			}
		}
		add(StaticCall, site, 5, becomes, note)
	}
}

// relField is a self-relative field of a table entry: its offset in the
// entry and its width (4 or 8 bytes).
type relField struct{ off, width int }

// sortedRel is a table of self-relative entries as the kernel's sort
// leaves it: entries ordered by key (compared element by element) with
// each relative field rewritten for its new place, so that it still
// points where it did (the kernel's swap functions add the distance
// moved), and other bytes moved as they are. fix, if set, adjusts an
// entry's targets the way the kernel does besides sorting. It returns nil
// for a malformed table or when two entries have the same key.
func sortedRel(s *Section, size int, fields []relField, key func(abs []uint64) []uint64, fix func(abs []uint64)) []byte {
	if len(s.After)%size != 0 {
		return nil
	}
	type entry struct {
		raw []byte
		abs []uint64
		key []uint64
	}
	le := binary.LittleEndian
	es := make([]entry, len(s.After)/size)
	for i := range es {
		raw := s.After[i*size : (i+1)*size]
		at := s.Addr + uint64(i*size)
		abs := make([]uint64, len(fields))
		for k, f := range fields {
			v := int64(int32(le.Uint32(raw[f.off:])))
			if f.width == 8 {
				v = int64(le.Uint64(raw[f.off:]))
			}
			abs[k] = at + uint64(f.off) + uint64(v)
		}
		es[i] = entry{raw: raw, abs: abs, key: key(abs)}
		if fix != nil {
			fix(abs)
		}
	}
	cmp := func(a, b []uint64) int {
		for i := range a {
			if a[i] != b[i] {
				if a[i] < b[i] {
					return -1
				}
				return 1
			}
		}
		return 0
	}
	sort.SliceStable(es, func(i, j int) bool { return cmp(es[i].key, es[j].key) < 0 })
	out := make([]byte, 0, len(s.After))
	for i, e := range es {
		if i > 0 && cmp(es[i-1].key, e.key) == 0 {
			return nil
		}
		b := bytes.Clone(e.raw)
		at := s.Addr + uint64(i*size)
		for k, f := range fields {
			v := e.abs[k] - (at + uint64(f.off))
			if f.width == 8 {
				le.PutUint64(b[f.off:], v)
			} else {
				le.PutUint32(b[f.off:], uint32(v))
			}
		}
		out = append(out, b...)
	}
	return out
}
