//go:build unix

package modfile

import (
	"errors"
	"os"
	"syscall"
)

// openFile opens path for reading. os.Open would also try to register the
// descriptor with the runtime's poller, two system calls that a regular
// file does not need; gomodinfo opens thousands of modules.
func openFile(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}
