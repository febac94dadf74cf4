package modfile

import (
	"errors"
	"fmt"
)

// Version is one entry of __versions: the CRC a module expects for a
// symbol it imports.
type Version struct {
	Name string
	CRC  uint64
}

// versionEntrySize is sizeof(struct modversion_info) for both classes:
// an unsigned long CRC and a name filling the rest of 64 bytes.
const versionEntrySize = 64

// Versions returns the symbol CRCs of __versions (a leading '.' of a name
// is dropped, as kmod does), followed by those of the extended layout
// (__version_ext_crcs and __version_ext_names, Linux 6.14+) if present. A
// module built without CONFIG_MODVERSIONS has none.
func (f *File) Versions() ([]Version, error) {
	var vs []Version
	b, err := f.sectionBytes("__versions")
	switch {
	case errors.Is(err, ErrNoSection):
	case err != nil:
		return nil, fmt.Errorf("read __versions: %w", err)
	default:
		if len(b)%versionEntrySize != 0 {
			return nil, fmt.Errorf("read __versions: size %d is not a multiple of %d: %w", len(b), versionEntrySize, ErrBadSection)
		}
		crcSize := 8
		if f.class == Class32 {
			crcSize = 4
		}
		for ; len(b) > 0; b = b[versionEntrySize:] {
			var crc uint64
			if crcSize == 8 {
				crc = f.order.Uint64(b)
			} else {
				crc = uint64(f.order.Uint32(b))
			}
			name := cstring(b[crcSize:versionEntrySize])
			if len(name) > 0 && name[0] == '.' {
				name = name[1:]
			}
			vs = append(vs, Version{Name: name, CRC: crc})
		}
	}
	ext, err := f.extVersions()
	if err != nil {
		return nil, err
	}
	return append(vs, ext...), nil
}

func (f *File) extVersions() ([]Version, error) {
	crcs, err := f.sectionBytes("__version_ext_crcs")
	if errors.Is(err, ErrNoSection) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read __version_ext_crcs: %w", err)
	}
	names, err := f.sectionBytes("__version_ext_names")
	if err != nil {
		return nil, fmt.Errorf("read __version_ext_names: %w", err)
	}
	if len(crcs)%4 != 0 {
		return nil, fmt.Errorf("read __version_ext_crcs: size %d is not a multiple of 4: %w", len(crcs), ErrBadSection)
	}
	var vs []Version
	for ; len(crcs) > 0; crcs = crcs[4:] {
		if len(names) == 0 {
			return nil, fmt.Errorf("read __version_ext_names: fewer names than CRCs: %w", ErrBadSection)
		}
		name := cstring(names)
		names = names[min(len(name)+1, len(names)):]
		vs = append(vs, Version{Name: name, CRC: uint64(f.order.Uint32(crcs))})
	}
	return vs, nil
}
