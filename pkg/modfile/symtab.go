package modfile

import (
	"debug/elf"
	"fmt"
)

// Symbols returns the module's symbol table as debug/elf reads it, without
// the null symbol at index 0: the symbol a relocation names by index i is
// Symbols()[i-1]. Section indexes are those of Sections.
func (f *File) Symbols() ([]elf.Symbol, error) {
	syms, err := f.symbols()
	if err != nil {
		return nil, fmt.Errorf("read symbols: %w", err)
	}
	return syms, nil
}
