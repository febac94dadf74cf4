package kernel

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// OpenRegular opens path for reading and returns its size, refusing
// anything but a regular file with a *fs.PathError that wraps
// ErrNotRegular (and EISDIR for a directory). The open itself never
// blocks: O_NONBLOCK keeps a FIFO without a writer from hanging it, and
// the descriptor is checked with fstat before anything is read; the flag
// is then cleared, so that the file is not registered with the Go poller
// (system calls a regular file does not need; gomodinfo opens thousands).
func OpenRegular(path string) (*os.File, int64, error) {
	fd, err := openNonblock(path)
	if err != nil {
		return nil, 0, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, 0, &fs.PathError{Op: "open", Path: path, Err: notRegular(st.Mode)}
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, unix.O_RDONLY); err != nil {
		unix.Close(fd)
		return nil, 0, &fs.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), st.Size, nil
}

func openNonblock(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

// notRegularError says what a file is instead of regular; it unwraps to
// ErrNotRegular and, for a directory, to EISDIR.
type notRegularError struct {
	what  string
	errno unix.Errno
}

func (e *notRegularError) Error() string { return e.what + ", not a regular file" }

func (e *notRegularError) Unwrap() []error {
	if e.errno != 0 {
		return []error{ErrNotRegular, e.errno}
	}
	return []error{ErrNotRegular}
}

func notRegular(mode uint32) error {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return &notRegularError{"is a directory", unix.EISDIR}
	case unix.S_IFIFO:
		return &notRegularError{"is a FIFO", 0}
	case unix.S_IFCHR:
		return &notRegularError{"is a character device", 0}
	case unix.S_IFBLK:
		return &notRegularError{"is a block device", 0}
	case unix.S_IFSOCK:
		return &notRegularError{"is a socket", 0}
	}
	return &notRegularError{"is a special file", 0}
}

// ReadFile reads the regular file at path, at most max bytes: a larger
// one is refused (ErrTooLarge) before it is read, and so is anything but a
// regular file (ErrNotRegular), without blocking on a FIFO. It is what
// the tools use for keys, certificates, raw signatures and index files.
func ReadFile(path string, max int64) ([]byte, error) {
	f, size, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > max {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, size, max)}
	}
	// The size may change under us: read at most max+1 to see it.
	b := make([]byte, 0, size+1)
	for {
		n, err := f.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > max {
			return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)}
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}
