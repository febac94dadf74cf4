package modfile

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gokmod/gokmod/pkg/compression"
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
	f.stripVersions(out)
	return out, nil
}

// stripVersions clears SHF_ALLOC of __versions in out, an image of f.
func (f *File) stripVersions(out []byte) {
	s, ok := f.Section("__versions")
	if !ok {
		return
	}
	off := s.hdrOff + 8 // sh_flags in both classes
	if f.class == Class64 {
		f.order.PutUint64(out[off:], s.Flags&^shfAlloc)
	} else {
		f.order.PutUint32(out[off:], uint32(s.Flags&^shfAlloc))
	}
}

// StripVermagic returns a copy of the image in which the vermagic= string
// of .modinfo is overwritten with NULs, so that the kernel skips the
// version magic check: what kmod does for a forced load (--force-vermagic,
// libkmod-elf.c elf_strip_vermagic). A module without vermagic is an error
// wrapping ErrNoVermagic; one without .modinfo is returned unchanged, as
// kmod does.
func (f *File) StripVermagic() ([]byte, error) {
	start, end, err := f.vermagic()
	if err != nil {
		return nil, fmt.Errorf("strip vermagic: %w", err)
	}
	out, err := f.Image()
	if err != nil {
		return nil, fmt.Errorf("strip vermagic: %w", err)
	}
	clear(out[start:end])
	return out, nil
}

// StripInPlace does what StripVersions (if versions) and StripVermagic (if
// vermagic) do, to data itself: a plain module image, which it modifies
// without copying it. For a module without vermagic the error wraps
// ErrNoVermagic (versions are stripped all the same).
func StripInPlace(data []byte, versions, vermagic bool) error {
	f, err := NewFileBytes(data)
	if err != nil {
		return err
	}
	if f.comp != compression.None {
		return fmt.Errorf("strip: %w: image is %s compressed", ErrNotELF, f.comp)
	}
	if versions {
		f.stripVersions(data)
	}
	if vermagic {
		start, end, err := f.vermagic()
		if err != nil {
			return fmt.Errorf("strip vermagic: %w", err)
		}
		clear(data[start:end])
	}
	return nil
}

// vermagic returns where the vermagic= string of .modinfo lies in the
// image (start == end when there is nothing to strip).
func (f *File) vermagic() (start, end uint64, err error) {
	b, err := f.sectionBytes(".modinfo")
	if errors.Is(err, ErrNoSection) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	s, _ := f.Section(".modinfo")
	start = s.Offset
	for len(b) > 1 && b[0] == 0 {
		b, start = b[1:], start+1
	}
	if len(b) <= 1 {
		return 0, 0, nil
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
			return start + uint64(i), start + uint64(i+n), nil
		}
		i += n
	}
	return 0, 0, ErrNoVermagic
}
