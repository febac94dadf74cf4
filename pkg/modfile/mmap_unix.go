//go:build unix

package modfile

import (
	"fmt"
	"os"
	"syscall"
)

// readFile maps path read-only. Small and empty files are read instead.
func readFile(path string) (data []byte, release func() error, mapped bool, err error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer fd.Close()
	st, err := fd.Stat()
	if err != nil {
		return nil, nil, false, err
	}
	size := st.Size()
	if !st.Mode().IsRegular() || size < 4096 {
		data, err := readAll(fd, path)
		return data, nil, false, err
	}
	if size > MaxSize {
		return nil, nil, false, fmt.Errorf("%s: size %d exceeds %d bytes", path, size, MaxSize)
	}
	data, err = syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		data, err := readAll(fd, path)
		return data, nil, false, err
	}
	return data, func() error { return syscall.Munmap(data) }, true, nil
}
