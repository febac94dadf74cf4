package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenUnnamed creates an unnamed regular file in dir (open(2) with
// O_TMPFILE) for writing, with mode as open(2) applies it: less the umask.
// Until Link gives it a name, no one can see it, and if the process dies
// the kernel frees it: nothing is left behind. The error wraps
// ErrNotSupported when the kernel or the file system has no O_TMPFILE.
func OpenUnnamed(dir string, mode fs.FileMode) (*os.File, error) {
	for {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, uint32(mode.Perm()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
				// EISDIR: a kernel older than 3.11 took O_TMPFILE for
				// O_DIRECTORY.
				err = &Error{Op: "open O_TMPFILE", Errno: unix.EOPNOTSUPP}
			}
			return nil, &fs.PathError{Op: "create unnamed file in", Path: dir, Err: err}
		}
		return os.NewFile(uintptr(fd), dir+"/(unnamed)"), nil
	}
}

// CreateExcl creates path for writing, failing if it exists, with mode
// less the umask, as open(2) with O_CREAT|O_EXCL does.
func CreateExcl(path string, mode fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
}

// Link gives f, a file made by OpenUnnamed, the name path (linkat(2)
// through /proc/self/fd, or with AT_EMPTY_PATH where /proc is missing).
// path must not exist.
func Link(f *os.File, path string) error {
	proc := "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	if errors.Is(err, unix.ENOENT) {
		if _, serr := os.Stat("/proc/self/fd"); serr != nil {
			err = unix.Linkat(int(f.Fd()), "", unix.AT_FDCWD, path, unix.AT_EMPTY_PATH)
		}
	}
	if err != nil {
		return &fs.PathError{Op: "link", Path: path, Err: err}
	}
	return nil
}

// Owner returns the user and group that own the file fi describes.
func Owner(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1, false
	}
	return int(st.Uid), int(st.Gid), true
}

// ProcessAlive reports whether a process with the id pid exists (kill(2)
// with signal 0; EPERM means it exists and belongs to someone else).
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// Interrupts are the signals that ask a batch to stop: SIGINT, SIGTERM.
var Interrupts = []os.Signal{unix.SIGINT, unix.SIGTERM}

// SignalStatus is the shell's exit status for a process ended by sig:
// 128 plus its number (130 for SIGINT, 143 for SIGTERM).
func SignalStatus(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// SignalName is the usual name of sig: "SIGINT", "SIGTERM".
func SignalName(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		if name := unix.SignalName(s); name != "" {
			return name
		}
		return fmt.Sprintf("signal %d", int(s))
	}
	return sig.String()
}
