package sysmod

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestSections(t *testing.T) {
	root := fstest.MapFS{
		"sys/module/kaidock/sections/.text":           {Data: []byte("0xffffffffc0201000\n")},
		"sys/module/kaidock/sections/__mcount_loc":    {Data: []byte("0xffffffffc0205000\n")},
		"sys/module/hidden/sections/.text":            {Data: []byte("0x0000000000000000\n")},
		"sys/module/bad/sections/.text":               {Data: []byte("ffffffffc0201000\n")},
		"sys/module/builtin_mod/parameters/something": {Data: []byte("1\n")},
	}
	got, err := Sections(root, "kaidock")
	want := map[string]uint64{".text": 0xffffffffc0201000, "__mcount_loc": 0xffffffffc0205000}
	if err != nil || !cmp.Equal(got, want) {
		t.Errorf("Sections(kaidock) = %v, %v; want %v", got, err, want)
	}
	for _, tt := range []struct {
		name string
		want error
	}{
		{"hidden", ErrHidden},
		{"bad", ErrAddress},
		{"builtin_mod", ErrBuiltin},
		{"nosuch", ErrNotLoaded},
	} {
		if _, err := Sections(root, tt.name); !errors.Is(err, tt.want) {
			t.Errorf("Sections(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}
