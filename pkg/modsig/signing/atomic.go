package signing

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokmod/gokmod/pkg/kernel"
)

// tempFile is what writeFile needs of the file it fills; tests substitute
// a failing one.
type tempFile interface {
	io.Writer
	Sync() error
	Chmod(fs.FileMode) error
	Chown(uid, gid int) error
	// Name gives the file the name tmp (a no-op for one made with that
	// name), from which writeFile renames it over its destination.
	Name(tmp string) error
	Close() error
	// Discard closes the file and removes its name, if it has one.
	Discard()
}

// osTemp is an unnamed file (O_TMPFILE) or, where the file system has
// none, one created under its temporary name.
type osTemp struct {
	*os.File
	named string // the name it has, "" while unnamed
}

func (t *osTemp) Name(tmp string) error {
	if t.named != "" {
		return nil
	}
	if err := kernel.Link(t.File, tmp); err != nil {
		return err
	}
	t.named = tmp
	return nil
}

func (t *osTemp) Discard() {
	t.File.Close()
	if t.named != "" {
		os.Remove(t.named)
	}
}

// createTemp makes the file writeFile fills, with mode less the umask:
// unnamed while it is written, so that a process killed before it is
// renamed leaves nothing behind; tmp is the name to use where that is not
// supported.
var createTemp = func(dir, tmp string, mode fs.FileMode) (tempFile, error) {
	f, err := kernel.OpenUnnamed(dir, mode)
	if err == nil {
		return &osTemp{File: f}, nil
	}
	if !errors.Is(err, kernel.ErrNotSupported) {
		return nil, err
	}
	if f, err = kernel.CreateExcl(tmp, mode); err != nil {
		return nil, err
	}
	return &osTemp{File: f, named: tmp}, nil
}

// tempSeq numbers this process's temporary names.
var tempSeq atomic.Int64

// tempMarker is in every temporary name: ".<module>.gokmodsign-p<pid>-<n>".
const tempMarker = ".gokmodsign-"

// tempName is the temporary name for path, in its directory.
func tempName(dir, base string) string {
	return filepath.Join(dir, fmt.Sprintf(".%s%sp%d-%d", base, tempMarker, os.Getpid(), tempSeq.Add(1)))
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
// mode less the umask. The data is written to an unnamed file, synced,
// named and renamed over path: a kill at any point leaves either the old
// file or the new one under path, and at most (between the two last system
// calls) a whole new file under a temporary name, which Clean removes.
func writeFile(path string, mode fs.FileMode, ds *dirSyncer, chunks ...[]byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	uid, gid := -1, -1
	keepMode := false
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("write %s: not a regular file", path)
		}
		mode, keepMode = fi.Mode().Perm(), true
		if u, g, ok := kernel.Owner(fi); ok && os.Geteuid() == 0 {
			uid, gid = u, g
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := tempName(dir, base)
	f, err := createTemp(dir, tmp, mode)
	if err != nil {
		return fmt.Errorf("write %s: create temporary file: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Discard()
		}
	}()
	for _, c := range chunks {
		if _, err := f.Write(c); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if keepMode {
		if err := f.Chmod(mode); err != nil {
			return fmt.Errorf("write %s: chmod: %w", path, err)
		}
	}
	if uid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			return fmt.Errorf("write %s: chown: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err := f.Name(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: rename: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w", path, err)
	}
	ds.add(dir)
	return nil
}

// staleAge is how old a temporary file of an older gokmodsign (whose name
// carries no process id) must be before Clean removes it.
const staleAge = 10 * time.Minute

// Clean removes the temporary files that an interrupted run (killed
// between naming a finished file and renaming it, or, on a file system
// without O_TMPFILE, while writing it) left in dirs, and returns their
// names. A file whose process still runs is left alone.
func Clean(dirs []string) []string {
	var removed []string
	seen := map[string]bool{}
	for _, dir := range dirs {
		if dir == "" {
			dir = "."
		}
		if seen[dir] {
			continue
		}
		seen[dir] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			i := strings.LastIndex(name, tempMarker)
			if !strings.HasPrefix(name, ".") || i < 0 || !e.Type().IsRegular() || !stale(e, name[i+len(tempMarker):]) {
				continue
			}
			p := filepath.Join(dir, name)
			if os.Remove(p) == nil {
				removed = append(removed, p)
			}
		}
	}
	return removed
}

// stale reports whether a temporary file with the name suffix id
// ("p<pid>-<n>", or an older gokmodsign's random digits) is left over.
func stale(e fs.DirEntry, id string) bool {
	if rest, ok := strings.CutPrefix(id, "p"); ok {
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if ok && err == nil {
			return pid != os.Getpid() && !kernel.ProcessAlive(pid)
		}
	}
	fi, err := e.Info()
	return err == nil && time.Since(fi.ModTime()) > staleAge
}
