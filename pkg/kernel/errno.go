package kernel

import "golang.org/x/sys/unix"

// Error numbers the tools compare with or print, for packages above this
// one, which import neither syscall nor x/sys/unix.
const (
	ENOENT  = unix.ENOENT
	ENOTDIR = unix.ENOTDIR
	EINVAL  = unix.EINVAL
)

// MessageOf is the C library's text for the errno err carries, or for
// fallback when it carries none: what kmod prints after a failure.
func MessageOf(err error, fallback error) string {
	if e := Errno(err); e != 0 {
		return Message(e)
	}
	if e := Errno(fallback); e != 0 {
		return Message(e)
	}
	return err.Error()
}
