package modindex

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// Header words of every index file.
const (
	Magic   = 0xB007F457
	Version = 0x00020001
)

// Flags in the high bits of a node's offset word, and the offset mask.
const (
	flagPrefix = 0x80000000
	flagValues = 0x40000000
	flagChilds = 0x20000000
	offsetMask = 0x0FFFFFFF

	headerSize = 12
	childMax   = 128 // a key byte is 7-bit ASCII
)

// Value is one value of a key, with its priority: a lower number comes
// first.
type Value struct {
	Priority uint32
	Value    string
}

// Builder accumulates key/value/priority triples in memory and writes
// them as an index file. Its zero value is an empty index. A Builder is
// not safe for concurrent use.
type Builder struct {
	root node
	keys int
}

type node struct {
	prefix string
	values []Value
	kids   []child // ascending by c
}

type child struct {
	c byte
	n *node
}

func (n *node) child(c byte) *node {
	i := sort.Search(len(n.kids), func(i int) bool { return n.kids[i].c >= c })
	if i < len(n.kids) && n.kids[i].c == c {
		return n.kids[i].n
	}
	return nil
}

func (n *node) addChild(c byte, k *node) {
	i := sort.Search(len(n.kids), func(i int) bool { return n.kids[i].c >= c })
	n.kids = append(n.kids, child{})
	copy(n.kids[i+1:], n.kids[i:])
	n.kids[i] = child{c, k}
}

// addValue inserts v before the first value whose priority is not lower,
// as depmod does (so among equal priorities the last added comes first),
// and reports whether the same string was already there. Like kmod 30,
// it keeps the duplicate.
func (n *node) addValue(v Value) (dup bool) {
	for _, old := range n.values {
		if old.Value == v.Value {
			dup = true
			break
		}
	}
	i := sort.Search(len(n.values), func(i int) bool { return n.values[i].Priority >= v.Priority })
	n.values = append(n.values, Value{})
	copy(n.values[i+1:], n.values[i:])
	n.values[i] = v
	return dup
}

func checkKey(key, value string) error {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 || key[i] >= childMax {
			return fmt.Errorf("key %q: byte %#x: %w", key, key[i], ErrKey)
		}
	}
	for i := 0; i < len(value); i++ {
		if value[i] == 0 {
			return fmt.Errorf("value %q: NUL byte: %w", value, ErrKey)
		}
	}
	return nil
}

// Add stores value under key with priority. It reports whether key
// already had a value with the same string (depmod's "duplicate" warning);
// the value is stored again all the same, as kmod 30 does. The trie's
// shape, and so the bytes written, depend on the order of the calls only
// through the order of equal-priority values of one key.
func (b *Builder) Add(key, value string, priority uint32) (dup bool, err error) {
	if err := checkKey(key, value); err != nil {
		return false, err
	}
	b.keys++
	v := Value{Priority: priority, Value: value}
	n := &b.root
	i := 0
	for {
		// Make n.prefix a prefix of key[i:], splitting n where it is not.
		j := 0
		for ; j < len(n.prefix); j++ {
			if i+j >= len(key) || n.prefix[j] != key[i+j] {
				split := &node{prefix: n.prefix[j+1:], values: n.values, kids: n.kids}
				*n = node{prefix: n.prefix[:j], kids: []child{{n.prefix[j], split}}}
				break
			}
		}
		i += j
		if i == len(key) {
			return n.addValue(v), nil
		}
		c := key[i]
		next := n.child(c)
		if next == nil {
			n.addChild(c, &node{prefix: key[i+1:], values: []Value{v}})
			return false, nil
		}
		n = next
		i++
	}
}

// Len is the number of Add calls that stored a value.
func (b *Builder) Len() int { return b.keys }

// Bytes returns the index file.
func (b *Builder) Bytes() ([]byte, error) {
	out := make([]byte, headerSize, 4096)
	binary.BigEndian.PutUint32(out[0:], Magic)
	binary.BigEndian.PutUint32(out[4:], Version)
	out, root, err := writeNode(out, &b.root)
	if err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(out[8:], root)
	return out, nil
}

// WriteTo writes the index file to w.
func (b *Builder) WriteTo(w io.Writer) (int64, error) {
	data, err := b.Bytes()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(data)
	return int64(n), err
}

// writeNode appends n's subtree to out, children first in byte order,
// then n itself, and returns n's offset word.
func writeNode(out []byte, n *node) ([]byte, uint32, error) {
	var offs []uint32
	if len(n.kids) > 0 {
		first, last := n.kids[0].c, n.kids[len(n.kids)-1].c
		offs = make([]uint32, int(last-first)+1)
		for _, k := range n.kids {
			var err error
			out, offs[k.c-first], err = writeNode(out, k.n)
			if err != nil {
				return nil, 0, err
			}
		}
	}
	if len(out) > offsetMask {
		return nil, 0, fmt.Errorf("%d bytes: %w", len(out), ErrTooLarge)
	}
	word := uint32(len(out))
	if n.prefix != "" {
		out = append(out, n.prefix...)
		out = append(out, 0)
		word |= flagPrefix
	}
	if len(offs) > 0 {
		out = append(out, n.kids[0].c, n.kids[len(n.kids)-1].c)
		for _, o := range offs {
			out = binary.BigEndian.AppendUint32(out, o)
		}
		word |= flagChilds
	}
	if len(n.values) > 0 {
		out = binary.BigEndian.AppendUint32(out, uint32(len(n.values)))
		for _, v := range n.values {
			out = binary.BigEndian.AppendUint32(out, v.Priority)
			out = append(out, v.Value...)
			out = append(out, 0)
		}
		word |= flagValues
	}
	return out, word, nil
}
