package depmod

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shuffledTree links the modules of src into a new tree, creating files
// and directories in an order drawn from seed, so that the file system
// lists them in a different order. Every tenth module also gets a copy of
// equal priority in extra/ and in a second kernel/ directory, whose choice
// kmod leaves to the directory order.
func shuffledTree(t testing.TB, src, kver string, seed int64) string {
	t.Helper()
	mods := moduleFiles(t, src)
	dup := map[string]bool{}
	for i, rel := range mods {
		dup[rel] = i%10 == 0
	}
	rng := rand.New(rand.NewSource(seed))
	rng.Shuffle(len(mods), func(i, j int) { mods[i], mods[j] = mods[j], mods[i] })
	base := t.TempDir()
	dir := filepath.Join(base, "lib", "modules", kver)
	link := func(rel, target string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range mods {
		target := filepath.Join(src, rel)
		link(rel, target)
		if dup[rel] {
			link(filepath.Join("extra", filepath.Base(rel)), target)
			link(filepath.Join("kernel", "zz-dup", filepath.Base(rel)), target)
		}
	}
	for _, f := range treeFiles {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err == nil {
			os.WriteFile(filepath.Join(dir, f), data, 0o644)
		}
	}
	return base
}

// TestReproducible builds the 6.1 tree, with duplicates of equal
// priority, from trees created in different orders and with 1, 2 and 8
// workers: every file must be the same.
func TestReproducible(t *testing.T) {
	src, kver := debian61(t)
	var want []File
	for i, tc := range []struct {
		seed    int64
		workers int
	}{{1, 1}, {2, 2}, {3, 8}} {
		base := shuffledTree(t, src, kver, tc.seed)
		res, err := Build(Options{BaseDir: base, KVer: kver, ConfigPaths: []string{}, Workers: tc.workers})
		if err != nil {
			t.Fatal(err)
		}
		// Paths differ between trees only by the base directory.
		for j := range res.Files {
			res.Files[j].Data = bytes.ReplaceAll(res.Files[j].Data, []byte(base), []byte("BASE"))
		}
		if i == 0 {
			want = res.Files
			if !bytes.Contains(want[0].Data, []byte("extra/")) && !bytes.Contains(want[0].Data, []byte("zz-dup/")) {
				t.Fatalf("no duplicate won anywhere: the test does not test ties")
			}
			continue
		}
		for j, f := range res.Files {
			if !bytes.Equal(f.Data, want[j].Data) {
				t.Errorf("seed %d, %d workers: %s differs from seed 1, 1 worker (first difference at %d)", tc.seed, tc.workers, f.Name, firstDiff(want[j].Data, f.Data))
			}
		}
	}
}

// TestChosen checks that a duplicate says which file won and why.
func TestChosen(t *testing.T) {
	src, _ := debian61(t)
	base := tree{
		md + "kernel/fs/fuse/fuse.ko":        "mod:kernel/fs/fuse/fuse.ko",
		md + "updates/fuse.ko":               "mod:kernel/fs/fuse/fuse.ko",
		md + "kernel/drivers/block/loop.ko":  "mod:kernel/drivers/block/loop.ko",
		md + "kernel/drivers/block2/loop.ko": "mod:kernel/drivers/block/loop.ko",
	}.write(t, src)
	var log []string
	res, err := Build(Options{BaseDir: base, KVer: fxKver, ConfigPaths: []string{}, Verbose: 1,
		Log: func(l Level, s string) { log = append(log, l.String()+": "+s) }})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, md) + "/"
	want := map[string]string{
		"fuse": dir + "updates/fuse.ko over " + dir + "kernel/fs/fuse/fuse.ko: search priority 0 over -1",
		"loop": dir + "kernel/drivers/block/loop.ko over " + dir + "kernel/drivers/block2/loop.ko: equal search priority -1, first by path (kmod takes the first file its directory scan finds)",
	}
	for _, m := range res.Modules {
		if m.Chosen != want[m.Name] {
			t.Errorf("%s: Chosen = %q, want %q", m.Name, m.Chosen, want[m.Name])
		}
		if !strings.Contains(strings.Join(log, "\n"), "NOTICE: "+m.Name+": "+want[m.Name]) {
			t.Errorf("-v log lacks the choice of %s:\n%s", m.Name, strings.Join(log, "\n"))
		}
	}
}

// TestWriteAtomic makes the third file fail to write: no index may change
// and no temporary file may stay.
func TestWriteAtomic(t *testing.T) {
	src, _ := debian61(t)
	base := tree{md + "kernel/fs/fuse/fuse.ko": "mod:kernel/fs/fuse/fuse.ko"}.write(t, src)
	dir := filepath.Join(base, md)
	for _, f := range outputs {
		os.WriteFile(filepath.Join(dir, f), []byte("old "+f), 0o644)
	}
	res, err := Build(Options{BaseDir: base, KVer: fxKver, ConfigPaths: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	errDisk := errors.New("no space left (injected)")
	writeFile = func(path string, data []byte) error {
		if n++; n == 3 {
			os.WriteFile(path, data[:len(data)/2], 0o644)
			return errDisk
		}
		return writeNew(path, data)
	}
	defer func() { writeFile = writeNew }()
	if err := res.Write(); !errors.Is(err, ErrWrite) || !errors.Is(err, errDisk) {
		t.Fatalf("Write() = %v, want ErrWrite and the injected error", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if string(data) != "old "+e.Name() {
			t.Errorf("after a failed Write, %s holds %d bytes, not the old index", e.Name(), len(data))
		}
	}
	if len(entries) != len(outputs)+1 {
		t.Errorf("after a failed Write the directory has %d entries, want %d (no temporary files)", len(entries), len(outputs)+1)
	}
	writeFile = writeNew
	if err := res.Write(); err != nil {
		t.Fatal(err)
	}
	got := takeOutputs(t, dir)
	for _, f := range res.Files {
		if !bytes.Equal(got[f.Name], f.Data) {
			t.Errorf("%s not written", f.Name)
		}
	}
}

// TestUpToDate checks -A's decision: fresh indexes are up to date, a
// module changed after them is not, nor is a tree without modules.dep.
func TestUpToDate(t *testing.T) {
	src, _ := debian61(t)
	base := tree{md + "kernel/fs/fuse/fuse.ko": "mod:kernel/fs/fuse/fuse.ko", md + "build/x.ko": "junk"}.write(t, src)
	dir := filepath.Join(base, md)
	var log []string
	logf := func(l Level, s string) { log = append(log, fmt.Sprint(l, ": ", s)) }
	if UpToDate(dir, logf) {
		t.Error("UpToDate() = true without modules.dep")
	}
	if len(log) != 1 || !strings.Contains(log[0], "could not fstatat("+dir+", modules.dep): No such file or directory") {
		t.Errorf("log = %q", log)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "kernel/fs/fuse/fuse.ko"), old, old)
	os.WriteFile(filepath.Join(dir, "modules.dep"), nil, 0o644)
	if !UpToDate(dir, logf) {
		t.Error("UpToDate() = false for an older module")
	}
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "build/x.ko"), future, future)
	if !UpToDate(dir, logf) {
		t.Error("UpToDate() = false for a newer file under build/")
	}
	os.Chtimes(filepath.Join(dir, "kernel/fs/fuse/fuse.ko"), future, future)
	if UpToDate(dir, logf) {
		t.Error("UpToDate() = true for a newer module")
	}
}
