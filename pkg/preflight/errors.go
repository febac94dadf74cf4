package preflight

import "errors"

// Errors returned by this package.
var (
	// ErrSyntax means a line of /proc/kallsyms, Module.symvers or
	// /proc/keys could not be parsed.
	ErrSyntax = errors.New("syntax error")
	// ErrNoRelease means an offline target names no kernel release: the
	// build directory has neither include/generated/utsrelease.h nor
	// include/config/kernel.release.
	ErrNoRelease = errors.New("no kernel release in the build directory")
	// ErrTooLarge means a module file is larger than the loader would
	// read (pkg/loader.DefaultMaxSize).
	ErrTooLarge = errors.New("module file too large")
)
