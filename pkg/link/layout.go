package link

import (
	"debug/elf"
	"strings"

	"github.com/gokmod/gokmod/pkg/modfile"
)

// DefaultBase is where Layout puts a module when told nothing else: the
// start of x86-64's module area (MODULES_VADDR without KASLR).
const DefaultBase = 0xffffffffc0000000

const pageSize = 4096

// Layout chooses an address for every allocated section of f, starting at
// base, in the spirit of the kernel's layout_sections: executable
// sections, then read-only data, then data made read-only after init
// (.data..ro_after_init, __jump_table), then writable data, each group on
// its own page and each section aligned as its header asks; the .init
// sections follow in the same order after the others. A live kernel's
// real addresses are in /sys/module/NAME/sections.
func Layout(f *modfile.File, base uint64) map[string]uint64 {
	secs := f.Sections()
	out := make(map[string]uint64)
	addr := base
	for _, init := range []bool{false, true} {
		for class := 0; class < 4; class++ {
			start := addr
			for i, s := range secs {
				fl := elf.SectionFlag(s.Flags)
				if i == 0 || fl&elf.SHF_ALLOC == 0 || notLoaded(s.Name) || strings.HasPrefix(s.Name, ".init") != init || sectionClass(s.Name, fl) != class {
					continue
				}
				if _, dup := out[s.Name]; dup {
					continue
				}
				if a := max(s.Align, 1); addr%a != 0 {
					addr += a - addr%a
				}
				out[s.Name] = addr
				addr += s.Size
			}
			if addr != start && addr%pageSize != 0 {
				addr += pageSize - addr%pageSize
			}
		}
	}
	return out
}

func sectionClass(name string, fl elf.SectionFlag) int {
	switch {
	case fl&elf.SHF_EXECINSTR != 0:
		return 0
	case name == ".data..ro_after_init" || name == "__jump_table":
		return 2
	case fl&elf.SHF_WRITE == 0:
		return 1
	}
	return 3
}
