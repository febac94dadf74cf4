package depmod

import "errors"

// Errors returned by this package.
var (
	// ErrVersion means the kernel version is not a version number.
	ErrVersion = errors.New("bad kernel version")
	// ErrNotAbsolute means a module path given on the command line is
	// not absolute, which kmod refuses.
	ErrNotAbsolute = errors.New("not absolute path")
	// ErrCycle means modules depend on each other in a cycle; no index
	// is written, as kmod writes none.
	ErrCycle = errors.New("dependency cycle")
	// ErrSymbols means the Module.symvers or System.map file could not be
	// read.
	ErrSymbols = errors.New("cannot load kernel symbols")
	// ErrWrite means an index could not be written; the previous file of
	// that name is left in place.
	ErrWrite = errors.New("cannot write index")
	// ErrBadModule means a module file could not be read or parsed.
	ErrBadModule = errors.New("bad module")
)
