package modindex

import (
	"bytes"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzReader feeds arbitrary bytes to the reader: it may refuse them, but
// must not panic, hang or loop.
func FuzzReader(f *testing.F) {
	f.Add(build(f, nil), "a")
	f.Add(build(f, []triple{{"abc", "x", 1}, {"abd", "y", 2}, {"ab", "z", 0}}), "abd")
	f.Add(build(f, []triple{{"pci:v*d0001*", "m", 1}, {"pci:v[0-9]*", "n", 2}}), "pci:v1d0001")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		x, err := New(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = x.Walk(func(string, []Value) error { return nil })
		_, _ = x.Lookup(key)
		_, _ = x.Search(key)
	})
}

// FuzzRoundTrip builds an index from triples spelled in a string and
// checks that reading it back gives every key its values, in depmod's
// order, and nothing else.
func FuzzRoundTrip(f *testing.F) {
	f.Add("abc=x;abd=y;ab=z;abc=w")
	f.Add("pci:v*=m;pci:v1=n;=root;a=;a=")
	f.Fuzz(func(t *testing.T, spec string) {
		var b Builder
		model := map[string][]Value{}
		for i, item := range strings.Split(spec, ";") {
			key, value, _ := strings.Cut(item, "=")
			prio := uint32(i % 3)
			if _, err := b.Add(key, value, prio); err != nil {
				if !errors.Is(err, ErrKey) {
					t.Fatalf("Add(%q, %q) = %v", key, value, err)
				}
				continue
			}
			vs := model[key]
			j := sort.Search(len(vs), func(j int) bool { return vs[j].Priority >= prio })
			vs = append(vs[:j], append([]Value{{prio, value}}, vs[j:]...)...)
			model[key] = vs
		}
		data, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		x, err := New(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("New(built index) = %v", err)
		}
		got := map[string][]Value{}
		var order []string
		err = x.Walk(func(key string, vals []Value) error {
			got[key] = vals
			order = append(order, key)
			return nil
		})
		if err != nil {
			t.Fatalf("Walk() = %v", err)
		}
		if diff := cmp.Diff(model, got); diff != "" {
			t.Fatalf("read back (-added +read):\n%s", diff)
		}
		if !sort.StringsAreSorted(order) {
			t.Errorf("Walk order %q is not sorted", order)
		}
		for key, want := range model {
			vals, err := x.Lookup(key)
			if err != nil || !cmp.Equal(vals, want) {
				t.Errorf("Lookup(%q) = %v, %v; want %v", key, vals, err, want)
			}
		}
	})
}
