package sysmod

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Sections reads where the kernel put each allocated section of a loaded
// module: /sys/module/NAME/sections/SECTION, one address per file (root
// only; other users read zeros, and get ErrHidden).
func Sections(fsys fs.FS, name string) (map[string]uint64, error) {
	dir := path.Join("sys/module", name, "sections")
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, err2 := fs.Stat(fsys, path.Join("sys/module", name)); err2 == nil {
				return nil, fmt.Errorf("%s: no sections directory: %w", name, ErrBuiltin)
			}
			return nil, fmt.Errorf("%s: %w", name, ErrNotLoaded)
		}
		return nil, err
	}
	out := make(map[string]uint64, len(ents))
	nonzero := false
	for _, e := range ents {
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		s := strings.TrimSpace(string(b))
		v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
		if err != nil || !strings.HasPrefix(s, "0x") {
			return nil, fmt.Errorf("%s/%s: %w: %q", dir, e.Name(), ErrAddress, s)
		}
		out[e.Name()] = v
		nonzero = nonzero || v != 0
	}
	if len(out) > 0 && !nonzero {
		return nil, fmt.Errorf("%s: %w", dir, ErrHidden)
	}
	return out, nil
}
