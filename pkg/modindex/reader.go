package modindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/gokmod/gokmod/pkg/fnmatch"
)

// Limits on what one node may hold, so that a corrupt index cannot make
// the reader allocate or recurse without bound.
const (
	maxString = 1 << 20 // bytes in one prefix or value
	maxValues = 1 << 20 // values in one node
	maxDepth  = 1 << 13 // nodes on one path from the root
	readChunk = 512     // first read of a node
)

// Index is an open index file. Its methods may be called concurrently.
type Index struct {
	r    io.ReaderAt
	size int64 // -1 when the reader does not say
	root uint32
}

// Open reads the index file at path into memory.
func Open(path string) (*Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	x, err := New(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// New returns the index read from r. When r has a Size method (as
// *bytes.Reader, *io.SectionReader and *strings.Reader do) offsets are
// checked against it; otherwise a read past the end is the error.
func New(r io.ReaderAt) (*Index, error) {
	x := &Index{r: r, size: -1}
	if s, ok := r.(interface{ Size() int64 }); ok {
		x.size = s.Size()
	}
	var hdr [headerSize]byte
	if n, err := r.ReadAt(hdr[:], 0); n < headerSize {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("header: %d bytes: %w", n, ErrCorrupt)
		}
		return nil, fmt.Errorf("read header: %w", err)
	}
	if m := binary.BigEndian.Uint32(hdr[0:]); m != Magic {
		return nil, fmt.Errorf("magic %#x: %w", m, ErrMagic)
	}
	if v := binary.BigEndian.Uint32(hdr[4:]); v>>16 != Version>>16 {
		return nil, fmt.Errorf("version %#x: %w", v, ErrVersion)
	}
	x.root = binary.BigEndian.Uint32(hdr[8:])
	return x, nil
}

// rnode is a node as read from the file.
type rnode struct {
	off    uint32 // without flags
	prefix string
	first  int // child byte range; first > last when none
	last   int
	kids   []uint32
	values []Value
}

// cursor reads a node's bytes in growing chunks.
type cursor struct {
	x   *Index
	off int64
	buf []byte
	pos int
	eof bool
}

func (c *cursor) need(n int) error {
	for len(c.buf)-c.pos < n {
		if c.eof {
			return fmt.Errorf("node at %d: truncated: %w", c.off, ErrCorrupt)
		}
		want := max(2*len(c.buf), readChunk, c.pos+n)
		if want > maxString*2+8*maxValues {
			return fmt.Errorf("node at %d: too large: %w", c.off, ErrCorrupt)
		}
		if c.x.size >= 0 && c.off+int64(want) > c.x.size {
			want = int(c.x.size - c.off)
			c.eof = true
		}
		b := make([]byte, want)
		got, err := c.x.r.ReadAt(b, c.off)
		if got < want {
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read node at %d: %w", c.off, err)
			}
			c.eof = true
		}
		c.buf = b[:got]
	}
	return nil
}

func (c *cursor) u32() (uint32, error) {
	if err := c.need(4); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(c.buf[c.pos:])
	c.pos += 4
	return v, nil
}

func (c *cursor) byte() (byte, error) {
	if err := c.need(1); err != nil {
		return 0, err
	}
	c.pos++
	return c.buf[c.pos-1], nil
}

func (c *cursor) cstring() (string, error) {
	for {
		if i := bytes.IndexByte(c.buf[c.pos:], 0); i >= 0 {
			s := string(c.buf[c.pos : c.pos+i])
			c.pos += i + 1
			return s, nil
		}
		if len(c.buf)-c.pos > maxString {
			return "", fmt.Errorf("node at %d: string too long: %w", c.off, ErrCorrupt)
		}
		if err := c.need(len(c.buf) - c.pos + 1); err != nil {
			return "", err
		}
	}
}

// read returns the node at word, or nil for a zero offset (no node).
func (x *Index) read(word uint32) (*rnode, error) {
	off := word & offsetMask
	if off == 0 {
		return nil, nil
	}
	if off < headerSize || (x.size >= 0 && int64(off) > x.size) {
		return nil, fmt.Errorf("node offset %d: %w", off, ErrCorrupt)
	}
	c := &cursor{x: x, off: int64(off)}
	n := &rnode{off: off, first: 1, last: 0}
	var err error
	if word&flagPrefix != 0 {
		if n.prefix, err = c.cstring(); err != nil {
			return nil, err
		}
	}
	if word&flagChilds != 0 {
		first, err := c.byte()
		if err != nil {
			return nil, err
		}
		last, err := c.byte()
		if err != nil {
			return nil, err
		}
		if first > last {
			return nil, fmt.Errorf("node at %d: child range %#x..%#x: %w", off, first, last, ErrCorrupt)
		}
		n.first, n.last = int(first), int(last)
		n.kids = make([]uint32, n.last-n.first+1)
		for i := range n.kids {
			if n.kids[i], err = c.u32(); err != nil {
				return nil, err
			}
		}
	}
	if word&flagValues != 0 {
		count, err := c.u32()
		if err != nil {
			return nil, err
		}
		if count > maxValues {
			return nil, fmt.Errorf("node at %d: %d values: %w", off, count, ErrCorrupt)
		}
		for ; count > 0; count-- {
			p, err := c.u32()
			if err != nil {
				return nil, err
			}
			s, err := c.cstring()
			if err != nil {
				return nil, err
			}
			n.values = append(n.values, Value{Priority: p, Value: s})
		}
	}
	return n, nil
}

// walker follows child offsets, refusing to enter a node twice or to go
// deeper than maxDepth: a valid trie has neither.
type walker struct {
	x    *Index
	seen map[uint32]bool
}

func (w *walker) child(n *rnode, c byte, depth int) (*rnode, error) {
	if int(c) < n.first || int(c) > n.last {
		return nil, nil
	}
	word := n.kids[int(c)-n.first]
	if word&offsetMask == 0 {
		return nil, nil
	}
	return w.enter(word, depth)
}

func (w *walker) enter(word uint32, depth int) (*rnode, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("deeper than %d nodes: %w", maxDepth, ErrCorrupt)
	}
	off := word & offsetMask
	if w.seen[off] {
		return nil, fmt.Errorf("node at %d reached twice: %w", off, ErrCorrupt)
	}
	w.seen[off] = true
	return w.x.read(word)
}

func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%v: %w", r, ErrCorrupt)
	}
}

func byteAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

// Lookup returns the values stored under key exactly, in the file's
// order (ascending priority; libkmod's index_search answers the first).
// A key with no values is an error wrapping ErrNotFound.
func (x *Index) Lookup(key string) (vals []Value, err error) {
	defer guard(&err)
	w := &walker{x: x, seen: map[uint32]bool{}}
	n, err := w.enter(x.root, 0)
	for i, depth := 0, 1; n != nil && err == nil; depth++ {
		for j := 0; j < len(n.prefix); j++ {
			if n.prefix[j] != byteAt(key, i+j) {
				return nil, fmt.Errorf("%q: %w", key, ErrNotFound)
			}
		}
		i += len(n.prefix)
		if i == len(key) {
			if len(n.values) == 0 {
				break
			}
			return n.values, nil
		}
		n, err = w.child(n, key[i], depth)
		i++
	}
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%q: %w", key, ErrNotFound)
}

// results collects matches as libkmod's add_value does: ascending
// priority, and among equal priorities the value found last first.
type results []Value

func (r *results) add(vals []Value) {
	for _, v := range vals {
		s := *r
		i := sort.Search(len(s), func(i int) bool { return s[i].Priority >= v.Priority })
		s = append(s, Value{})
		copy(s[i+1:], s[i:])
		s[i] = v
		*r = s
	}
}

// Search returns the values of every key that, read as an fnmatch(3)
// pattern, matches key, as libkmod's index_searchwild does for
// modules.alias.bin: keys are followed byte by byte until a '*', '?' or
// '[' starts a pattern, and the rest of each such key is matched against
// the rest of key. No match is an error wrapping ErrNotFound.
func (x *Index) Search(key string) (vals []Value, err error) {
	defer guard(&err)
	w := &walker{x: x, seen: map[uint32]bool{}}
	var out results
	if err := w.searchNode(x.root, key, &out); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: %w", key, ErrNotFound)
	}
	return out, nil
}

func (w *walker) searchNode(word uint32, key string, out *results) error {
	n, err := w.enter(word, 0)
	i := 0
	for depth := 1; n != nil && err == nil; depth++ {
		for j := 0; j < len(n.prefix); j++ {
			c := n.prefix[j]
			if c == '*' || c == '?' || c == '[' {
				pat := make([]byte, 0, 64)
				return w.searchAll(n, j, pat, key[i+j:], depth, out)
			}
			if c != byteAt(key, i+j) {
				return nil
			}
		}
		i += len(n.prefix)
		for _, c := range []byte("*?[") {
			k, err := w.child(n, c, depth)
			if err != nil {
				return err
			}
			if k != nil {
				if err := w.searchAll(k, 0, []byte{c}, key[i:], depth+1, out); err != nil {
					return err
				}
			}
		}
		if i == len(key) {
			out.add(n.values)
			return nil
		}
		n, err = w.child(n, key[i], depth)
		i++
	}
	return err
}

// searchAll visits the subtree of n, whose prefix from j on continues the
// pattern pat, and adds the values of the keys that match subkey.
func (w *walker) searchAll(n *rnode, j int, pat []byte, subkey string, depth int, out *results) error {
	pat = append(pat, n.prefix[j:]...)
	for c := n.first; c <= n.last; c++ {
		k, err := w.child(n, byte(c), depth)
		if err != nil {
			return err
		}
		if k != nil {
			if err := w.searchAll(k, 0, append(pat, byte(c)), subkey, depth+1, out); err != nil {
				return err
			}
		}
	}
	if len(n.values) > 0 && fnmatch.Match(string(pat), subkey) {
		out.add(n.values)
	}
	return nil
}

// Walk calls fn with every key that has values, and its values in file
// order, in the order of kmod's index_dump: a key before the keys it is
// a prefix of, children by ascending byte. An error from fn stops the
// walk and is returned.
func (x *Index) Walk(fn func(key string, vals []Value) error) (err error) {
	defer guard(&err)
	w := &walker{x: x, seen: map[uint32]bool{}}
	n, err := w.enter(x.root, 0)
	if err != nil || n == nil {
		return err
	}
	return w.walk(n, nil, 1, fn)
}

func (w *walker) walk(n *rnode, key []byte, depth int, fn func(string, []Value) error) error {
	key = append(key, n.prefix...)
	if len(n.values) > 0 {
		if err := fn(string(key), n.values); err != nil {
			return err
		}
	}
	for c := n.first; c <= n.last; c++ {
		k, err := w.child(n, byte(c), depth)
		if err != nil {
			return err
		}
		if k != nil {
			if err := w.walk(k, append(key, byte(c)), depth+1, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
