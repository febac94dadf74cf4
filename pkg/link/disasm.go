package link

import (
	"bytes"
	"fmt"

	"golang.org/x/arch/x86/x86asm"
)

// Namer names an address ("_printk", "kaidock_func+0x5"), or returns "".
type Namer func(addr uint64) string

// Line is one instruction of a function, before and after linking.
type Line struct {
	Offset uint64 // from the function's start
	Addr   uint64 // linked address
	Before []byte // as in the file
	After  []byte // as linked
	BeforeText,
	AfterText string
	Relocs  []Reloc // relocations whose field lies in the instruction
	Patches []Patch // post-link rewrites overlapping it
	// PatchedText disassembles the bytes the kernel writes over the
	// instruction, when every patch overlapping it is predicted.
	PatchedText string
	Patched     []byte
}

// Disassemble decodes the function fn (a symbol of the module) twice:
// as in the file, with its offsets in the section as addresses, as objdump
// shows a .ko, and as linked, with targets named by name.
func (im *Image) Disassemble(fn Symbol, name Namer) ([]Line, error) {
	sec := im.Section(fn.Section)
	if sec == nil || fn.Addr < sec.Addr || fn.Addr-sec.Addr > uint64(len(sec.Before)) || uint64(len(sec.Before))-(fn.Addr-sec.Addr) < fn.Size {
		return nil, fmt.Errorf("%s: not within an allocated section", fn.Name)
	}
	start := fn.Addr - sec.Addr
	before, after := sec.Before[start:start+fn.Size], sec.After[start:start+fn.Size]
	var lines []Line
	for off := uint64(0); off < fn.Size; {
		n, btext := decode(before[off:], start+off, nil)
		_, atext := decode(after[off:off+uint64(n)], fn.Addr+off, name)
		l := Line{Offset: off, Addr: fn.Addr + off, Before: before[off : off+uint64(n)], After: after[off : off+uint64(n)],
			BeforeText: btext, AfterText: atext}
		for _, r := range im.Relocs {
			if r.Section == sec.Name && r.Offset < start+off+uint64(n) && start+off < r.Offset+uint64(max(r.Size, 1)) {
				l.Relocs = append(l.Relocs, r)
			}
		}
		l.Patches = im.PatchesAt(l.Addr, n)
		l.Patched, l.PatchedText = patched(l, name)
		lines = append(lines, l)
		off += uint64(n)
	}
	return lines, nil
}

// patched applies the predicted patches to a copy of the instruction's
// bytes; it returns nil unless every patch is predicted and at least one
// is a code rewrite.
func patched(l Line, name Namer) ([]byte, string) {
	if len(l.Patches) == 0 {
		return nil, ""
	}
	b := bytes.Clone(l.After)
	for _, p := range l.Patches {
		if p.Becomes == nil || p.Kind == KernelData {
			return nil, ""
		}
		for i, c := range p.Becomes {
			if a := p.Addr + uint64(i); a >= l.Addr && a < l.Addr+uint64(len(b)) {
				b[a-l.Addr] = c
			}
		}
	}
	if bytes.Equal(b, l.After) {
		return nil, ""
	}
	var text string
	for off := 0; off < len(b); {
		n, t := decode(b[off:], l.Addr+uint64(off), name)
		if text != "" {
			text += "; "
		}
		text += t
		off += n
	}
	return b, text
}

// decode disassembles one instruction in AT&T syntax, objdump's, and
// names the addresses it refers to. It never fails: undecodable bytes are
// shown as one .byte.
func decode(code []byte, pc uint64, name Namer) (int, string) {
	if bytes.HasPrefix(code, []byte{0xf3, 0x0f, 0x1e, 0xfa}) {
		return 4, "endbr64" // x86asm does not know CET instructions
	}
	inst, err := x86asm.Decode(code, 64)
	if err != nil || inst.Len == 0 {
		if len(code) == 0 {
			return 1, "(end)"
		}
		return 1, fmt.Sprintf(".byte %#x", code[0])
	}
	text := x86asm.GNUSyntax(inst, pc, nil)
	if name == nil {
		return inst.Len, text
	}
	for _, a := range inst.Args {
		var target uint64
		switch a := a.(type) {
		case x86asm.Rel:
			target = pc + uint64(inst.Len) + uint64(int64(a))
		case x86asm.Mem:
			if a.Base != x86asm.RIP {
				continue
			}
			target = pc + uint64(inst.Len) + uint64(a.Disp)
		case x86asm.Imm:
			if uint64(a) < 0xffff800000000000 {
				continue
			}
			target = uint64(a)
		default:
			continue
		}
		if s := name(target); s != "" {
			if _, isRel := a.(x86asm.Rel); isRel {
				text += " <" + s + ">"
			} else {
				text += fmt.Sprintf("  # %#x <%s>", target, s)
			}
		}
	}
	return inst.Len, text
}
