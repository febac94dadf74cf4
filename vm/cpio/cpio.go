package cpio

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// Errors returned by Writer.
var (
	// ErrBadName is returned for an empty, absolute-after-cleaning "..", or
	// otherwise unusable entry name.
	ErrBadName = errors.New("bad entry name")
	// ErrClosed is returned when an entry is added after Close.
	ErrClosed = errors.New("archive closed")
)

const (
	magic   = "070701"
	trailer = "TRAILER!!!"

	modeDir     = 0o040000
	modeRegular = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
)

// Writer writes a newc archive. Entry names are slash-separated and relative
// to the archive root; a leading "/" is dropped.
type Writer struct {
	w      io.Writer
	ino    uint32
	dirs   map[string]bool
	closed bool
	err    error
}

// NewWriter returns a Writer that writes the archive to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, ino: 1, dirs: map[string]bool{".": true}}
}

// Dir adds a directory and, first, any missing parents (mode 0755).
func (w *Writer) Dir(name string, perm uint32) error {
	name, err := clean(name)
	if err != nil {
		return err
	}
	if err := w.parents(name); err != nil {
		return err
	}
	if w.dirs[name] {
		return nil
	}
	w.dirs[name] = true
	return w.entry(name, modeDir|perm&0o7777, 2, 0, 0, nil)
}

// File adds a regular file with the given contents.
func (w *Writer) File(name string, perm uint32, data []byte) error {
	name, err := clean(name)
	if err != nil {
		return err
	}
	if err := w.parents(name); err != nil {
		return err
	}
	return w.entry(name, modeRegular|perm&0o7777, 1, 0, 0, data)
}

// Symlink adds a symbolic link name pointing at target.
func (w *Writer) Symlink(name, target string) error {
	name, err := clean(name)
	if err != nil {
		return err
	}
	if target == "" {
		return fmt.Errorf("symlink %s: empty target: %w", name, ErrBadName)
	}
	if err := w.parents(name); err != nil {
		return err
	}
	return w.entry(name, modeSymlink|0o777, 1, 0, 0, []byte(target))
}

// CharDev adds a character device node.
func (w *Writer) CharDev(name string, perm uint32, major, minor uint32) error {
	name, err := clean(name)
	if err != nil {
		return err
	}
	if err := w.parents(name); err != nil {
		return err
	}
	return w.entry(name, modeChar|perm&0o7777, 1, major, minor, nil)
}

// Close writes the trailer. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	err := w.entry(trailer, 0, 1, 0, 0, nil)
	w.closed = true
	return err
}

func (w *Writer) parents(name string) error {
	dir := path.Dir(name)
	if w.dirs[dir] {
		return nil
	}
	if err := w.parents(dir); err != nil {
		return err
	}
	w.dirs[dir] = true
	return w.entry(dir, modeDir|0o755, 2, 0, 0, nil)
}

func (w *Writer) entry(name string, mode, nlink, rmajor, rminor uint32, data []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return ErrClosed
	}
	ino := w.ino
	w.ino++
	if name == trailer {
		ino = 0
	}
	hdr := fmt.Sprintf("%s%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		magic, ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor, len(name)+1, 0)
	buf := make([]byte, 0, len(hdr)+len(name)+4+len(data)+3)
	buf = append(buf, hdr...)
	buf = append(buf, name...)
	buf = append(buf, 0)
	buf = pad(buf)
	buf = append(buf, data...)
	buf = pad(buf)
	if _, err := w.w.Write(buf); err != nil {
		w.err = fmt.Errorf("write %s: %w", name, err)
		return w.err
	}
	return nil
}

func pad(b []byte) []byte {
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func clean(name string) (string, error) {
	c := path.Clean(strings.TrimLeft(name, "/"))
	if c == "." || c == ".." || strings.HasPrefix(c, "../") || c == trailer {
		return "", fmt.Errorf("%q: %w", name, ErrBadName)
	}
	return c, nil
}
