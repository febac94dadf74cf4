package main

import (
	"bytes"
	"debug/elf"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed modules/Kbuild modules/*.c
var moduleSources embed.FS

// moduleNames are the modules modules/Kbuild builds.
var moduleNames = []string{
	"kaidock", "kaidock_export", "kaidock_user", "kaidock_badmagic",
	"kaidock_unknownsym", "kaidock_gplonly", "kaidock_params", "kaidock_sites",
}

// errModinfo is returned when a post-build edit finds no string to edit.
var errModinfo = errors.New("no such .modinfo entry")

func moduleSourceHash() (string, error) {
	var parts []string
	err := fs.WalkDir(moduleSources, "modules", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := moduleSources.ReadFile(p)
		parts = append(parts, p, string(b))
		return err
	})
	return hashStrings(parts...), err
}

// provisionModules builds the modules for k into the cache.
func provisionModules(c *Cache, k *Kernel, logw io.Writer) (string, error) {
	h, err := moduleSourceHash()
	if err != nil {
		return "", err
	}
	dir, err := artifact(c.path("modules", k.ID+"-"+h), func(tmp string) error {
		fmt.Fprintf(logw, "gokmod-vm: %s: building kaidock and its companions\n", k.Flavour)
		return buildModules(k.BuildDir, tmp, nil)
	})
	if err != nil {
		return "", fmt.Errorf("build modules for %s: %w", k.Flavour, err)
	}
	return dir, nil
}

// buildModules builds modules/ against the kbuild tree kdir and puts the
// finished .ko files into out.
func buildModules(kdir, out string, logw io.Writer) error {
	work, err := os.MkdirTemp(out, ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	err = fs.WalkDir(moduleSources, "modules", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := moduleSources.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(work, filepath.Base(p)), b, 0o644)
	})
	if err != nil {
		return err
	}
	if err := command("", logw, "make", "-C", kdir, "M="+work, "KBUILD_MODPOST_WARN=1",
		// BTF for modules needs pahole and is of no use here.
		"CONFIG_DEBUG_INFO_BTF_MODULES=", "modules"); err != nil {
		return err
	}
	for _, name := range moduleNames {
		if err := copyFile(filepath.Join(out, name+".ko"), filepath.Join(work, name+".ko"), 0o644); err != nil {
			return fmt.Errorf("collect %s.ko: %w", name, err)
		}
	}
	if err := copyBuildInfo(kdir, out); err != nil {
		return err
	}
	if err := editModinfo(filepath.Join(out, "kaidock_badmagic.ko"), "vermagic", func(old string) string {
		return ("badmagic " + old)[:len(old)]
	}); err != nil {
		return err
	}
	return editModinfo(filepath.Join(out, "kaidock_gplonly.ko"), "license", func(string) string {
		return "Proprietary"
	})
}

// editModinfo rewrites the value of the first key=value string of a
// module's .modinfo in place. The new value may not be longer than the old
// one; the rest is filled with NULs, which every reader skips.
func editModinfo(name, key string, edit func(old string) string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("edit %s: %w", name, err)
	}
	sec := f.Section(".modinfo")
	if sec == nil || sec.Type == elf.SHT_NOBITS || sec.Offset+sec.Size > uint64(len(b)) {
		return fmt.Errorf("edit %s: no .modinfo section", name)
	}
	data := b[sec.Offset : sec.Offset+sec.Size]
	prefix := []byte(key + "=")
	for off := 0; off < len(data); {
		end := bytes.IndexByte(data[off:], 0)
		if end < 0 {
			end = len(data) - off
		}
		s := data[off : off+end]
		if bytes.HasPrefix(s, prefix) {
			old := string(s[len(prefix):])
			nv := edit(old)
			if len(nv) > len(old) {
				return fmt.Errorf("edit %s: new %s %q longer than %q", name, key, nv, old)
			}
			copy(s[len(prefix):], nv)
			clear(s[len(prefix)+len(nv):])
			return writeFileAtomic(name, b, 0o644)
		}
		off += end + 1
	}
	return fmt.Errorf("edit %s: %s: %w", name, key, errModinfo)
}
