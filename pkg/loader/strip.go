package loader

import "github.com/gokmod/gokmod/pkg/modfile"

// strip removes what f forces from a (decompressed) image, in place, as
// kmod does on its init_module path: __versions loses SHF_ALLOC, vermagic=
// is blanked. Like kmod, an image that cannot be stripped (not an ELF
// module, no vermagic) is loaded as it is and the kernel judges it.
func strip(img []byte, f Force) []byte {
	_ = modfile.StripInPlace(img, f.Modversions, f.Vermagic)
	return img
}
