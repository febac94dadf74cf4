package modindex

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/pkg/moddb"
	"github.com/gokmod/gokmod/pkg/moddb/moddbtest"
)

type triple struct {
	key, value string
	prio       uint32
}

func build(t testing.TB, ts []triple) []byte {
	t.Helper()
	var b Builder
	for _, tr := range ts {
		if _, err := b.Add(tr.key, tr.value, tr.prio); err != nil {
			t.Fatalf("Add(%q, %q, %d) = %v", tr.key, tr.value, tr.prio, err)
		}
	}
	data, err := b.Bytes()
	if err != nil {
		t.Fatalf("Bytes() = %v", err)
	}
	return data
}

func open(t testing.TB, data []byte) *Index {
	t.Helper()
	x, err := New(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return x
}

func TestEmpty(t *testing.T) {
	data := build(t, nil)
	want := []byte{0xb0, 0x07, 0xf4, 0x57, 0, 2, 0, 1, 0, 0, 0, 12}
	if !bytes.Equal(data, want) {
		t.Fatalf("empty index = % x, want % x", data, want)
	}
	x := open(t, data)
	if _, err := x.Lookup("a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup(a) = %v, want ErrNotFound", err)
	}
	if _, err := x.Search("a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Search(a) = %v, want ErrNotFound", err)
	}
	n := 0
	if err := x.Walk(func(string, []Value) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("Walk() = %d keys, %v; want 0, nil", n, err)
	}
}

// TestLayout pins the bytes of a small index: a root with prefix "ab",
// children 'c' and 'd' (post-order, so they come first) and a value.
func TestLayout(t *testing.T) {
	data := build(t, []triple{{"abc", "x", 1}, {"abd", "y", 2}, {"ab", "z", 0}})
	want := []byte{
		0xb0, 0x07, 0xf4, 0x57, 0, 2, 0, 1, 0x20, 0, 0, 54, // header, root at 54 (childs)
		0, 0, 0, 1, 0, 0, 0, 1, 'x', 0, // "abc" at 12: values
		0, 0, 0, 1, 0, 0, 0, 2, 'y', 0, // "abd" at 22: values
		'b', 0, 'c', 'd', 0x40, 0, 0, 12, 0x40, 0, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 'z', 0, // "ab" at 32
		'a', 'a', 0xe0, 0, 0, 32, // root
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("index =\n% x\nwant\n% x", data, want)
	}
	x := open(t, data)
	for _, tc := range []struct {
		key  string
		want []Value
	}{
		{"abc", []Value{{1, "x"}}},
		{"abd", []Value{{2, "y"}}},
		{"ab", []Value{{0, "z"}}},
	} {
		got, err := x.Lookup(tc.key)
		if err != nil || !cmp.Equal(got, tc.want) {
			t.Errorf("Lookup(%q) = %v, %v; want %v", tc.key, got, err, tc.want)
		}
	}
	for _, key := range []string{"a", "abe", "abcd", ""} {
		if _, err := x.Lookup(key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Lookup(%q) = %v, want ErrNotFound", key, err)
		}
	}
}

// TestValueOrder checks depmod's insertion rule: ascending priority, and
// a value added later goes before equal priorities already there.
func TestValueOrder(t *testing.T) {
	data := build(t, []triple{{"k", "a", 5}, {"k", "b", 1}, {"k", "c", 5}, {"k", "a", 3}, {"k", "d", 9}})
	got, err := open(t, data).Lookup("k")
	want := []Value{{1, "b"}, {3, "a"}, {5, "c"}, {5, "a"}, {9, "d"}}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("Lookup(k) = %v, %v; want %v", got, err, want)
	}
	var b Builder
	for i, tc := range []struct {
		key, value string
		dup        bool
	}{{"k", "a", false}, {"k", "b", false}, {"k", "a", true}, {"kk", "a", false}} {
		if dup, err := b.Add(tc.key, tc.value, uint32(i)); err != nil || dup != tc.dup {
			t.Errorf("Add(%q, %q) = %v, %v; want %v", tc.key, tc.value, dup, err, tc.dup)
		}
	}
}

func TestBadKey(t *testing.T) {
	var b Builder
	for _, tc := range []struct{ key, value string }{
		{"caf\xc3\xa9", "m"}, {"a\x00b", "m"}, {"a", "x\x00"},
	} {
		if _, err := b.Add(tc.key, tc.value, 0); !errors.Is(err, ErrKey) {
			t.Errorf("Add(%q, %q) = %v, want ErrKey", tc.key, tc.value, err)
		}
	}
	if _, err := b.Add("a", "caf\xc3\xa9", 0); err != nil {
		t.Errorf("Add(a, non-ASCII value) = %v, want nil", err)
	}
}

func TestSearch(t *testing.T) {
	data := build(t, []triple{
		{"pci:v00008086d*sv*", "e1000", 7},
		{"pci:v00008086d00001234sv*", "igb", 3},
		{"pci:v0000808?d*", "wild", 9},
		{"pci:v[0-9]*", "cls", 9},
		{"usb:v1234*", "usbmod", 1},
		{"pci:v00008086d00001234sv0000", "exact", 4},
		{"fs-ext4", "ext4", 2},
	})
	x := open(t, data)
	for _, tc := range []struct {
		key  string
		want []Value
	}{
		// Equal priorities: the value found last comes first ("cls" is
		// found at "pci:v", before the walk reaches "wild" further down).
		{"pci:v00008086d00001234sv0000", []Value{{3, "igb"}, {4, "exact"}, {7, "e1000"}, {9, "wild"}, {9, "cls"}}},
		{"pci:v00008086d00009999sv1", []Value{{7, "e1000"}, {9, "wild"}, {9, "cls"}}},
		{"fs-ext4", []Value{{2, "ext4"}}},
		{"usb:v1234", []Value{{1, "usbmod"}}},
	} {
		got, err := x.Search(tc.key)
		if err != nil || !cmp.Equal(got, tc.want) {
			t.Errorf("Search(%q) = %v, %v; want %v", tc.key, got, err, tc.want)
		}
	}
	for _, key := range []string{"fs-ext", "usb:v123", "pci:vx"} {
		if got, err := x.Search(key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Search(%q) = %v, %v; want ErrNotFound", key, got, err)
		}
	}
}

func TestCorrupt(t *testing.T) {
	good := build(t, []triple{{"abc", "x", 1}, {"abd", "y", 2}, {"ab", "z", 0}})
	loop := bytes.Clone(good)
	copy(loop[36:], []byte{0x60, 0, 0, 32}) // child 'c' of "ab" points at "ab"
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"short", good[:8], ErrCorrupt},
		{"magic", append([]byte{0, 0, 0, 0}, good[4:]...), ErrMagic},
		{"version", append(append([]byte{}, good[:4]...), append([]byte{0, 3, 0, 1}, good[8:]...)...), ErrVersion},
	} {
		if _, err := New(bytes.NewReader(tc.data)); !errors.Is(err, tc.want) {
			t.Errorf("%s: New() = %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated", good[:40]},
		{"loop", loop},
		{"root past end", append(append([]byte{}, good[:8]...), 0x20, 0, 1, 0)},
		{"root in header", append(append([]byte{}, good[:8]...), 0x20, 0, 0, 4)},
	} {
		x, err := New(bytes.NewReader(tc.data))
		if err != nil {
			t.Fatalf("%s: New() = %v", tc.name, err)
		}
		err = x.Walk(func(string, []Value) error { return nil })
		if !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Walk() = %v, want ErrCorrupt", tc.name, err)
		}
	}
}

// kernelDir is the Debian 6.1 module directory whose indexes kmod 30's
// depmod wrote from the text files beside them.
func kernelDir(t testing.TB) string {
	dir, _ := moddbtest.Debian61(t)
	return dir
}

func lines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// systemTriples rebuilds what depmod inserted into each index from the
// text files it wrote in the same run.
func systemTriples(t testing.TB, dir string) map[string][]triple {
	t.Helper()
	idx := map[string]uint32{}
	out := map[string][]triple{}
	for i, l := range lines(t, filepath.Join(dir, "modules.dep")) {
		p, _, _ := strings.Cut(l, ":")
		name := moddb.ModuleName(p)
		idx[name] = uint32(i)
		out["modules.dep.bin"] = append(out["modules.dep.bin"], triple{name, l, uint32(i)})
	}
	for _, l := range lines(t, filepath.Join(dir, "modules.alias")) {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		a, err := moddb.NormalizeAlias(f[1])
		if err != nil {
			continue
		}
		out["modules.alias.bin"] = append(out["modules.alias.bin"], triple{a, f[2], idx[f[2]]})
	}
	for _, l := range lines(t, filepath.Join(dir, "modules.symbols")) {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		out["modules.symbols.bin"] = append(out["modules.symbols.bin"], triple{f[1], f[2], idx[f[2]]})
	}
	for _, l := range lines(t, filepath.Join(dir, "modules.builtin")) {
		out["modules.builtin.bin"] = append(out["modules.builtin.bin"], triple{moddb.ModuleName(l), "", 0})
	}
	info, err := os.ReadFile(filepath.Join(dir, "modules.builtin.modinfo"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bytes.Split(info, []byte{0}) {
		mod, kv, ok := strings.Cut(string(s), ".")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 || mod == "" || k != "alias" || v == "" {
			continue
		}
		a, err := moddb.NormalizeAlias(v)
		if err != nil {
			continue
		}
		out["modules.builtin.alias.bin"] = append(out["modules.builtin.alias.bin"], triple{a, mod, 0})
	}
	return out
}

// TestSystemIndexes builds every index of the installed 6.1 tree from its
// text files and compares the bytes with the ones depmod wrote, then reads
// them back.
func TestSystemIndexes(t *testing.T) {
	dir := kernelDir(t)
	for file, ts := range systemTriples(t, dir) {
		t.Run(file, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			got := build(t, ts)
			if !bytes.Equal(got, want) {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Fatalf("built %d bytes, depmod wrote %d; first difference at %d", len(got), len(want), i)
			}
			x := open(t, want)
			keys := 0
			err = x.Walk(func(key string, vals []Value) error {
				keys++
				got, err := x.Lookup(key)
				if err != nil || !cmp.Equal(got, vals) {
					t.Fatalf("Lookup(%q) = %v, %v; want %v", key, got, err, vals)
				}
				return nil
			})
			if err != nil || keys == 0 {
				t.Fatalf("Walk() = %d keys, %v", keys, err)
			}
		})
	}
}
