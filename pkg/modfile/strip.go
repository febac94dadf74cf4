package modfile

import (
	"bytes"
	"errors"
	"fmt"
)

// shfAlloc is SHF_ALLOC: the section occupies memory in the loaded module.
const shfAlloc = 0x2

// StripVersions returns a copy of the image in which the __versions
// section no longer has SHF_ALLOC, so that the kernel skips the symbol CRC
// checks: what kmod does for a forced load (--force-modversion, libkmod-elf.c
// elf_strip_versions_section). A module without __versions is returned
// unchanged. The signature, if any, no longer matches.
func (f *File) StripVersions() ([]byte, error) {
	out, err := f.Image()
	if err != nil {
		return nil, fmt.Errorf("strip versions: %w", err)
	}
	s, ok := f.Section("__versions")
	if !ok {
		return out, nil
	}
	off := s.hdrOff + 8 // sh_flags in both classes
	if f.class == Class64 {
		f.order.PutUint64(out[off:], s.Flags&^shfAlloc)
	} else {
		f.order.PutUint32(out[off:], uint32(s.Flags&^shfAlloc))
	}
	return out, nil
}

// StripVermagic returns a copy of the image in which the vermagic= string
// of .modinfo is overwritten with NULs, so that the kernel skips the
// version magic check: what kmod does for a forced load (--force-vermagic,
// libkmod-elf.c elf_strip_vermagic). A module without vermagic is an error
// wrapping ErrNoVermagic; one without .modinfo is returned unchanged, as
// kmod does.
func (f *File) StripVermagic() ([]byte, error) {
	b, err := f.sectionBytes(".modinfo")
	if errors.Is(err, ErrNoSection) {
		return f.Image()
	}
	if err != nil {
		return nil, fmt.Errorf("strip vermagic: %w", err)
	}
	s, _ := f.Section(".modinfo")
	start := s.Offset
	for len(b) > 1 && b[0] == 0 {
		b, start = b[1:], start+1
	}
	if len(b) <= 1 {
		return f.Image()
	}
	const key = "vermagic="
	for i := 0; i < len(b); i++ {
		if b[i] == 0 {
			continue
		}
		n := bytes.IndexByte(b[i:], 0)
		if n < 0 {
			n = len(b) - i
		}
		if i+len(key) < len(b) && bytes.HasPrefix(b[i:], []byte(key)) {
			out, err := f.Image()
			if err != nil {
				return nil, fmt.Errorf("strip vermagic: %w", err)
			}
			clear(out[start+uint64(i) : start+uint64(i+n)])
			return out, nil
		}
		i += n
	}
	return nil, fmt.Errorf("strip vermagic: %w", ErrNoVermagic)
}
