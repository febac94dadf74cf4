//go:build !unix

package modfile

import "os"

// readFile reads path into memory.
func readFile(path string) (data []byte, release func() error, mapped bool, err error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer fd.Close()
	data, err = readAll(fd, path)
	return data, nil, false, err
}
