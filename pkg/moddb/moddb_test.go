package moddb

import (
	"errors"
	"io/fs"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/pkg/modfile"
)

func testDB() *DB {
	return New(fstest.MapFS{
		"modules.dep": {Data: []byte("kernel/fs/fat/fat.ko:\n" +
			"kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko\n" +
			"kernel/drivers/hid/hid-generic.ko.xz:\n" +
			"kernel/drivers/hid/hid-multitouch.ko: kernel/drivers/hid/hid.ko\n" +
			"/opt/extra/abs.ko:\n")},
		"modules.alias": {Data: []byte("# Aliases extracted from modules themselves.\n" +
			"alias fs-vfat vfat\n" +
			"alias hid:b*g*v*p* hid_generic\n" +
			"alias hid:b0003g0002v00000306p0000FF3F hid_multitouch\n" +
			"alias hid:b0003g0002v00000306p0000FF3F hid_multitouch\n" +
			"alias pci:v00008086d0000[1-3]*sv* fat\n")},
		"modules.symbols": {Data: []byte("alias symbol:fat_search_long fat\nalias symbol:hid_open hid_generic\n")},
		"modules.builtin": {Data: []byte("kernel/fs/ext4/ext4.ko\nkernel/crypto/crc32c_generic.ko\n")},
		"modules.builtin.modinfo": {Data: []byte("ext4.license=GPL\x00ext4.alias=fs-ext4\x00ext4.alias=ext3\x00" +
			"crc32c_generic.alias=crypto-crc32c\x00ext4.description=Fourth Extended Filesystem\x00")},
	}, "/lib/modules/6.1.0-test")
}

func TestLookup(t *testing.T) {
	db := testDB()
	for _, tc := range []struct {
		name string
		want Module
		err  error
	}{
		{"vfat", Module{Name: "vfat", Path: "/lib/modules/6.1.0-test/kernel/fs/fat/vfat.ko", Deps: []string{"/lib/modules/6.1.0-test/kernel/fs/fat/fat.ko"}}, nil},
		{"hid-generic", Module{Name: "hid_generic", Path: "/lib/modules/6.1.0-test/kernel/drivers/hid/hid-generic.ko.xz"}, nil},
		{"abs", Module{Name: "abs", Path: "/opt/extra/abs.ko"}, nil},
		{"ext4", Module{}, ErrNotFound},
	} {
		got, err := db.Lookup(tc.name)
		if !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
			t.Errorf("Lookup(%q) error = %v, want %v", tc.name, err, tc.err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Lookup(%q) mismatch (-want +got):\n%s", tc.name, diff)
		}
	}
	names, err := db.Names()
	if diff := cmp.Diff([]string{"fat", "vfat", "hid_generic", "hid_multitouch", "abs"}, names); diff != "" || err != nil {
		t.Errorf("Names() mismatch (-want +got), err %v:\n%s", err, diff)
	}
}

func TestAlias(t *testing.T) {
	db := testDB()
	for _, tc := range []struct {
		alias string
		want  []string
	}{
		{"fs-vfat", []string{"vfat"}},
		{"fs_vfat", []string{"vfat"}},
		// Sorted by modules.dep order; a repeated line gives a repeated answer.
		{"hid:b0003g0002v00000306p0000FF3F", []string{"hid_generic", "hid_multitouch", "hid_multitouch"}},
		{"pci:v00008086d00002000sv1", []string{"fat"}},
		{"pci:v00008086d00004000sv1", nil},
		{"nothing", nil},
	} {
		got, err := db.Alias(tc.alias)
		if diff := cmp.Diff(tc.want, got); diff != "" || err != nil {
			t.Errorf("Alias(%q) mismatch (-want +got), err %v:\n%s", tc.alias, err, diff)
		}
	}
	if _, err := db.Alias("a]b"); !errors.Is(err, ErrBadAlias) {
		t.Errorf("Alias(%q) = %v, want ErrBadAlias", "a]b", err)
	}
}

func TestBuiltin(t *testing.T) {
	db := testDB()
	for name, want := range map[string]bool{"ext4": true, "crc32c-generic": true, "vfat": false} {
		if got, err := db.IsBuiltin(name); got != want || err != nil {
			t.Errorf("IsBuiltin(%q) = %v, %v, want %v", name, got, err, want)
		}
	}
	info, err := db.BuiltinInfo("ext4")
	want := modfile.Info{{Key: "license", Value: "GPL"}, {Key: "alias", Value: "fs-ext4"}, {Key: "alias", Value: "ext3"}, {Key: "description", Value: "Fourth Extended Filesystem"}}
	if diff := cmp.Diff(want, info); diff != "" || err != nil {
		t.Errorf("BuiltinInfo(ext4) mismatch (-want +got), err %v:\n%s", err, diff)
	}
	if _, err := db.BuiltinInfo("vfat"); !errors.Is(err, ErrNotFound) {
		t.Errorf("BuiltinInfo(vfat) = %v, want ErrNotFound", err)
	}
	got, err := db.BuiltinAlias("crypto-crc32c")
	if diff := cmp.Diff([]string{"crc32c_generic"}, got); diff != "" || err != nil {
		t.Errorf("BuiltinAlias mismatch (-want +got), err %v:\n%s", err, diff)
	}
}

func TestSymbol(t *testing.T) {
	got, err := testDB().Symbol("fat_search_long")
	if diff := cmp.Diff([]string{"fat"}, got); diff != "" || err != nil {
		t.Errorf("Symbol mismatch (-want +got), err %v:\n%s", err, diff)
	}
}

func TestMissingFiles(t *testing.T) {
	db := New(fstest.MapFS{}, "/nowhere")
	if _, err := db.Lookup("x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Lookup without modules.dep = %v, want fs.ErrNotExist", err)
	}
	if _, err := db.Alias("x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Alias without modules.alias = %v, want fs.ErrNotExist", err)
	}
}

func TestSyntax(t *testing.T) {
	db := New(fstest.MapFS{"modules.dep": {Data: []byte("no colon here\n")}, "modules.alias": {Data: []byte("alias only-two\n")}}, "/x")
	if _, err := db.Lookup("x"); !errors.Is(err, ErrSyntax) {
		t.Errorf("Lookup on a bad modules.dep = %v, want ErrSyntax", err)
	}
	if _, err := db.Alias("x"); !errors.Is(err, ErrSyntax) {
		t.Errorf("Alias on a bad modules.alias = %v, want ErrSyntax", err)
	}
}

func FuzzDB(f *testing.F) {
	f.Add("kernel/a.ko: kernel/b.ko\n", "alias x* a\n", "a.alias=y\x00a.license=GPL\x00", "a")
	f.Add("x:\n:\n", "alias [a-\n", "\x00.\x00", "[")
	f.Fuzz(func(t *testing.T, dep, alias, builtin, query string) {
		db := New(fstest.MapFS{
			"modules.dep":             {Data: []byte(dep)},
			"modules.alias":           {Data: []byte(alias)},
			"modules.builtin":         {Data: []byte(dep)},
			"modules.builtin.modinfo": {Data: []byte(builtin)},
			"modules.symbols":         {Data: []byte(alias)},
		}, "/x")
		db.Lookup(query)
		db.Names()
		db.Alias(query)
		db.Symbol(query)
		db.IsBuiltin(query)
		db.BuiltinInfo(query)
		db.BuiltinAlias(query)
	})
}

// An index file that is not a regular file, or too large, is refused
// without being opened.
func TestIndexNotRegular(t *testing.T) {
	fsys := fstest.MapFS{
		"modules.dep":   &fstest.MapFile{Mode: fs.ModeNamedPipe},
		"modules.alias": &fstest.MapFile{Data: make([]byte, 16), Mode: 0o644},
	}
	db := New(fsys, "/lib/modules/x")
	if _, err := db.Lookup("vfat"); !errors.Is(err, ErrNotRegular) {
		t.Errorf("Lookup with a FIFO modules.dep = %v, want ErrNotRegular", err)
	}
}
