package signing

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// tempFile is what writeFile needs of an *os.File; tests substitute a
// failing one.
type tempFile interface {
	io.Writer
	Name() string
	Sync() error
	Chmod(fs.FileMode) error
	Chown(uid, gid int) error
	Close() error
}

// createTemp makes the temporary file writeFile fills.
var createTemp = func(dir, pattern string) (tempFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// dirSyncer makes renames durable by syncing their directories: at once,
// or, for a tree, each directory once at the end.
type dirSyncer struct {
	mu    sync.Mutex
	dirs  map[string]bool
	later bool
}

func (d *dirSyncer) add(dir string) {
	if d == nil || !d.later {
		syncDir(dir)
		return
	}
	d.mu.Lock()
	d.dirs[dir] = true
	d.mu.Unlock()
}

func (d *dirSyncer) flush() {
	for dir := range d.dirs {
		syncDir(dir)
	}
}

// syncDir makes a rename in dir durable; a directory that cannot be synced
// (some network file systems) is not an error.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// writeFile replaces path atomically with the concatenation of chunks.
// An existing path keeps its mode and, for root, its owner; a new one gets
// mode.
func writeFile(path string, mode fs.FileMode, ds *dirSyncer, chunks ...[]byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	uid, gid := -1, -1
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("write %s: not a regular file", path)
		}
		mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := createTemp(dir, "."+base+".gokmodsign-*")
	if err != nil {
		return fmt.Errorf("write %s: create temporary file: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	for _, c := range chunks {
		if _, err := f.Write(c); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: chmod: %w", path, err)
	}
	if uid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			return fmt.Errorf("write %s: chown: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: rename: %w", path, err)
	}
	ds.add(dir)
	return nil
}
