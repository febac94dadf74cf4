package link

import (
	"errors"
	"fmt"
)

// Errors returned by this package. A refusal the kernel would make is a
// *KernelError that unwraps to one of these.
var (
	// ErrMachine means the module is not a 64-bit little-endian x86-64 object.
	ErrMachine = errors.New("not an x86-64 module")
	// ErrUnknownReloc means a relocation type the kernel does not apply.
	ErrUnknownReloc = errors.New("unknown relocation type")
	// ErrOverflow means a value does not fit the relocated field.
	ErrOverflow = errors.New("relocation overflow")
	// ErrNonzero means a relocated field was not zero before the write
	// (Linux 6.0+ refuses that).
	ErrNonzero = errors.New("relocation target is not zero")
	// ErrUnknownSymbol means an undefined symbol that nothing exports.
	ErrUnknownSymbol = errors.New("unknown symbol")
	// ErrCommon means a SHN_COMMON symbol (a module built with -fcommon).
	ErrCommon = errors.New("common symbol")
	// ErrREL means an SHT_REL section, which x86-64 modules may not have.
	ErrREL = errors.New("REL relocation section")
	// ErrNoAddress means an allocated section the layout gives no address.
	ErrNoAddress = errors.New("section has no address")
	// ErrBadModule means relocations or symbols that point outside the file.
	ErrBadModule = errors.New("malformed relocation data")
)

// KernelError is a refusal worded as the kernel logs it.
type KernelError struct {
	Msg string // the kernel's log line(s), without the timestamp
	Err error  // one of this package's sentinels
}

func (e *KernelError) Error() string { return e.Msg }

// Unwrap returns the sentinel.
func (e *KernelError) Unwrap() error { return e.Err }

func kerr(sentinel error, format string, a ...any) error {
	return &KernelError{Msg: fmt.Sprintf(format, a...), Err: sentinel}
}
