package modfile

import "fmt"

// SectionView returns the contents of the section called name without
// copying them, for readers that scan many modules and keep nothing. The
// slice must not be modified; it stays valid after Close.
func (f *File) SectionView(name string) ([]byte, error) {
	return f.sectionBytes(name)
}

// SectionViewAt returns the contents of the section with index i without
// copying them. A section that lies outside the image is an error wrapping
// ErrTruncated, an index out of range one wrapping ErrNoSection.
func (f *File) SectionViewAt(i int) ([]byte, error) {
	if i <= 0 || i >= f.shnum {
		return nil, fmt.Errorf("section %d of %d: %w", i, f.shnum, ErrNoSection)
	}
	s := f.readShdr(uint64(i) * f.shentsz)
	if !s.inFile {
		return nil, fmt.Errorf("section %d (offset %d, size %d): %w", i, s.Offset, s.Size, ErrTruncated)
	}
	return f.readAt(s.Offset, s.Size)
}
