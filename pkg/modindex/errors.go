package modindex

import "errors"

// Errors returned by this package.
var (
	// ErrNotFound means the index has no value for a key.
	ErrNotFound = errors.New("key not found")
	// ErrMagic means a file does not start with the index magic number.
	ErrMagic = errors.New("not a module index (bad magic)")
	// ErrVersion means an index has a major version this package does
	// not read (libkmod reads only major version 2).
	ErrVersion = errors.New("unsupported module index version")
	// ErrCorrupt means an index is truncated or one of its nodes points
	// outside the file, back into itself or past the size limits.
	ErrCorrupt = errors.New("corrupt module index")
	// ErrKey means a key or value cannot be stored: a key holds a byte
	// outside 7-bit ASCII (kmod's trie has 128 children per node) or a
	// NUL, or a value holds a NUL.
	ErrKey = errors.New("bad index key or value")
	// ErrTooLarge means an index would not fit the 28-bit node offsets.
	ErrTooLarge = errors.New("module index too large")
)
