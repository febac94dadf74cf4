// Package signing signs kernel module files on disk with packages modsig
// and cms: one module in place or to a destination, the detached forms
// sign-file and kmodsign write (.p7s, or the whole appended block), or a
// whole tree of modules in parallel.
//
// Every file is written atomically: a temporary file in the destination's
// directory, fsync, rename over the destination. The destination keeps
// its mode (and, when run as root, its owner); on any error the
// destination is untouched and no temporary file is left behind. Before
// anything is written the module is checked: an uncompressed ELF file
// that package modfile can read, with either no signature or one whose
// trailer is well formed. An existing signature is replaced (the new one
// covers the content without it) unless Options.Append asks for a second
// one.
package signing
