package tests

// godepmod in the guest: on the guest's own module tree (vm/modtree.go,
// whose indexes kmod's depmod wrote on the host) it must write the same
// bytes, and the modprobe tests then run on the indexes it wrote.

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gokmod/gokmod/pkg/kernel"
)

// depmodOutputs are the files kmod 30's depmod writes.
var depmodOutputs = []string{
	"modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
	"modules.softdep", "modules.symbols", "modules.symbols.bin",
	"modules.builtin.bin", "modules.builtin.alias.bin", "modules.devname",
}

// guestTree is /lib/modules/$(uname -r), or a skip.
func guestTree(t testing.TB) string {
	t.Helper()
	rel, err := kernel.Release()
	if err != nil {
		t.Fatal(err)
	}
	dir := "/lib/modules/" + rel
	if _, err := os.Stat(dir + "/modules.dep"); err != nil {
		t.Skipf("no module tree in %s (run in the VM test bed)", dir)
	}
	return dir
}

// godepmodOnce rewrites the guest's indexes with godepmod, once per test
// binary, after checking that they come out byte for byte as kmod's.
var godepmodOnce struct {
	sync.Once
	err string
}

// godepmodIndexes makes the guest's indexes godepmod's (see
// godepmodOnce); the modprobe tests call it before they start.
func godepmodIndexes(t testing.TB, b *bed) {
	t.Helper()
	dir := guestTree(t)
	godepmodOnce.Do(func() {
		ours := b.tool("godepmod", "depmod")
		conf := filepath.Join(b.tmp, "depmod.d")
		if err := os.MkdirAll(conf, 0o755); err != nil {
			godepmodOnce.err = err.Error()
			return
		}
		out := filepath.Join(b.tmp, "depmod-out")
		rel := filepath.Base(dir)
		if r := b.run(ours, "-C", conf, "-o", out, rel); r.code != 0 {
			godepmodOnce.err = "godepmod -o: " + r.stderr
			return
		}
		for _, f := range depmodOutputs {
			want, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				godepmodOnce.err = err.Error()
				return
			}
			got, err := os.ReadFile(filepath.Join(out, "lib", "modules", rel, f))
			if err != nil || !bytes.Equal(got, want) {
				godepmodOnce.err = f + ": godepmod's " + filepath.Join(out, "lib", "modules", rel, f) + " differs from kmod's"
				return
			}
		}
		if r := b.run(ours, "-C", conf, rel); r.code != 0 {
			godepmodOnce.err = "godepmod: " + r.stderr
		}
	})
	if godepmodOnce.err != "" {
		t.Fatal(godepmodOnce.err)
	}
}

// TestDepmodGuest runs godepmod on the guest's tree: the ten files match
// the ones kmod's depmod wrote, and godepmod's replace them.
func TestDepmodGuest(t *testing.T) {
	b := newBed(t)
	godepmodIndexes(t, b)
	dir := guestTree(t)
	for _, f := range depmodOutputs {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after godepmod: %v", err)
		}
	}
}
