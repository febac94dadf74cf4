package modfile

import "errors"

// Errors returned by this package. Errors from a File wrap one of these,
// or an error of package compression or modsig.
var (
	// ErrNotELF means the (decompressed) data does not start with the ELF magic.
	ErrNotELF = errors.New("not an ELF file")
	// ErrBadELF means the ELF headers are inconsistent: unknown class or
	// byte order, wrong header sizes, or offsets outside the file.
	ErrBadELF = errors.New("malformed ELF file")
	// ErrTruncated means a header or section lies past the end of the file.
	ErrTruncated = errors.New("file truncated")
	// ErrNotModule means the ELF file has no .modinfo section.
	ErrNotModule = errors.New("not a kernel module (no .modinfo section)")
	// ErrNoSection means a section the caller asked for is missing.
	ErrNoSection = errors.New("section not found")
	// ErrNoVermagic means StripVermagic found no vermagic= string.
	ErrNoVermagic = errors.New("no vermagic in .modinfo")
	// ErrBadSection means a section's contents do not have the expected layout.
	ErrBadSection = errors.New("malformed section")
)
