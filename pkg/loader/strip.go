package loader

import "github.com/gokmod/gokmod/pkg/modfile"

// strip removes what f forces from a (decompressed) image, as kmod does on
// its init_module path: __versions loses SHF_ALLOC, vermagic= is blanked.
// Like kmod, an image that cannot be stripped (not an ELF module, no
// vermagic) is loaded as it is and the kernel judges it.
func strip(img []byte, f Force) []byte {
	if f.Modversions {
		if mf, err := modfile.NewFileBytes(img); err == nil {
			if out, err := mf.StripVersions(); err == nil {
				img = out
			}
		}
	}
	if f.Vermagic {
		if mf, err := modfile.NewFileBytes(img); err == nil {
			if out, err := mf.StripVermagic(); err == nil {
				img = out
			}
		}
	}
	return img
}
