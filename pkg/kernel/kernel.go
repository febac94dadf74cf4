package kernel

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Flags of finit_module (include/uapi/linux/module.h).
const (
	InitIgnoreModversions = unix.MODULE_INIT_IGNORE_MODVERSIONS // skip __versions checks
	InitIgnoreVermagic    = unix.MODULE_INIT_IGNORE_VERMAGIC    // skip the vermagic check
	InitCompressedFile    = 4                                   // MODULE_INIT_COMPRESSED_FILE (Linux 6.1)
)

// Flags of delete_module.
const (
	DeleteNonblock = unix.O_NONBLOCK // fail with EWOULDBLOCK instead of waiting for users
	DeleteTrunc    = unix.O_TRUNC    // force the removal (CONFIG_MODULE_FORCE_UNLOAD)
)

// Sentinels a syscall error unwraps to, besides its errno.
var (
	ErrPerm         = errors.New("operation not permitted")         // EPERM: no CAP_SYS_MODULE, or loading disabled
	ErrNotExist     = errors.New("not found")                       // ENOENT: unknown symbol, or module not loaded
	ErrExist        = errors.New("module already loaded")           // EEXIST
	ErrNoExec       = errors.New("invalid module format")           // ENOEXEC
	ErrInvalid      = errors.New("invalid argument")                // EINVAL: bad parameter, symbol version, decompression
	ErrBusy         = errors.New("module in use")                   // EBUSY
	ErrWouldBlock   = errors.New("operation would block")           // EWOULDBLOCK: delete_module with users left
	ErrNotSupported = errors.New("not supported")                   // ENOSYS, EOPNOTSUPP
	ErrKeyRejected  = errors.New("signature rejected")              // EKEYREJECTED, ENOKEY, EKEYEXPIRED, EKEYREVOKED, EBADMSG
	ErrFault        = errors.New("bad address")                     // EFAULT
	ErrNoMemory     = errors.New("out of memory")                   // ENOMEM
	ErrSymbolVer    = errors.New("module has wrong symbol version") // ESRCH

	// ErrNotRegular means a file to read is a directory, FIFO, device or
	// socket (OpenRegular, ReadFile).
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge means a file to read is larger than the caller allows
	// (ReadFile).
	ErrTooLarge = errors.New("file too large")
)

// Error is a failed kernel call.
type Error struct {
	Op    string        // "finit_module", "init_module", "delete_module", ...
	Errno syscall.Errno // what the kernel returned
}

func (e *Error) Error() string { return e.Op + ": " + Message(e.Errno) }

// Unwrap returns the errno and, when there is one, the matching sentinel.
func (e *Error) Unwrap() []error {
	if s := sentinel(e.Errno); s != nil {
		return []error{e.Errno, s}
	}
	return []error{e.Errno}
}

func sentinel(errno syscall.Errno) error {
	switch errno {
	case unix.EPERM:
		return ErrPerm
	case unix.ENOENT:
		return ErrNotExist
	case unix.EEXIST:
		return ErrExist
	case unix.ENOEXEC:
		return ErrNoExec
	case unix.EINVAL:
		return ErrInvalid
	case unix.EBUSY:
		return ErrBusy
	case unix.EWOULDBLOCK:
		return ErrWouldBlock
	case unix.ENOSYS, unix.EOPNOTSUPP:
		return ErrNotSupported
	case unix.EKEYREJECTED, unix.ENOKEY, unix.EKEYEXPIRED, unix.EKEYREVOKED, unix.EBADMSG:
		return ErrKeyRejected
	case unix.EFAULT:
		return ErrFault
	case unix.ENOMEM:
		return ErrNoMemory
	case unix.ESRCH:
		return ErrSymbolVer
	}
	return nil
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return &Error{Op: op, Errno: errno}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Errno returns the errno err carries, or 0.
func Errno(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}

// FinitModule loads the module in the open file fd with the given
// parameters and Init* flags.
func FinitModule(fd int, params string, flags int) error {
	return wrap("finit_module", unix.FinitModule(fd, params, flags))
}

// InitModule loads the module image in memory.
func InitModule(image []byte, params string) error {
	if len(image) == 0 {
		// The kernel answers an empty image with ENOEXEC too, but Go
		// cannot pass a pointer to nothing.
		return &Error{Op: "init_module", Errno: unix.ENOEXEC}
	}
	return wrap("init_module", unix.InitModule(image, params))
}

// DeleteModule unloads the module called name; flags are Delete*.
func DeleteModule(name string, flags int) error {
	return wrap("delete_module", unix.DeleteModule(name, flags))
}

// Release is the running kernel's release, as uname -r prints it.
func Release() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", wrap("uname", err)
	}
	return unix.ByteSliceToString(u.Release[:]), nil
}

// messages holds glibc's strerror text for the errnos module tools meet;
// Go's own texts are lower-case and differ in places.
var messages = map[syscall.Errno]string{
	unix.EPERM:        "Operation not permitted",
	unix.ENOENT:       "No such file or directory",
	unix.ESRCH:        "No such process",
	unix.EINTR:        "Interrupted system call",
	unix.EIO:          "Input/output error",
	unix.ENXIO:        "No such device or address",
	unix.E2BIG:        "Argument list too long",
	unix.ENOEXEC:      "Exec format error",
	unix.EBADF:        "Bad file descriptor",
	unix.EAGAIN:       "Resource temporarily unavailable",
	unix.ENOMEM:       "Cannot allocate memory",
	unix.EACCES:       "Permission denied",
	unix.EFAULT:       "Bad address",
	unix.EBUSY:        "Device or resource busy",
	unix.EEXIST:       "File exists",
	unix.ENODEV:       "No such device",
	unix.ENOTDIR:      "Not a directory",
	unix.EISDIR:       "Is a directory",
	unix.EINVAL:       "Invalid argument",
	unix.ETXTBSY:      "Text file busy",
	unix.EFBIG:        "File too large",
	unix.ENOSPC:       "No space left on device",
	unix.EROFS:        "Read-only file system",
	unix.ERANGE:       "Numerical result out of range",
	unix.ENAMETOOLONG: "File name too long",
	unix.ENOSYS:       "Function not implemented",
	unix.ELOOP:        "Too many levels of symbolic links",
	unix.EBADMSG:      "Bad message",
	unix.EOVERFLOW:    "Value too large for defined data type",
	unix.EOPNOTSUPP:   "Operation not supported",
	unix.ETIMEDOUT:    "Connection timed out",
	unix.ENOKEY:       "Required key not available",
	unix.EKEYEXPIRED:  "Key has expired",
	unix.EKEYREVOKED:  "Key has been revoked",
	unix.EKEYREJECTED: "Key was rejected by service",
}

// Message is the C library's strerror text for errno, which kmod prints
// ("File exists", not Go's "file exists").
func Message(errno syscall.Errno) string {
	if m, ok := messages[errno]; ok {
		return m
	}
	s := errno.Error()
	if s == "" {
		return fmt.Sprintf("Unknown error %d", int(errno))
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
