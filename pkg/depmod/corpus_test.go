package depmod

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/moddb/moddbtest"
)

// The differential tests run kmod's depmod and this package on the same
// trees: Debian's 6.1 tree as installed, the same modules recompressed as
// .ko.xz (CRC32, as the kernel's build does) and as .ko.zst, and Debian's
// 6.12 tree as shipped. The recompressed and downloaded trees are made
// once by the tests themselves into a cache directory keyed by what they
// are made from: $GOKMOD_CACHE/depmod-corpus, or the user cache directory's
// gokmod/depmod-corpus.

// kmodDepmod is kmod 30's depmod, or a skip.
func kmodDepmod(t testing.TB) string { return moddbtest.KmodTool(t, "depmod") }

// debian61 is the installed Debian 6.1 module directory, or a skip.
func debian61(t testing.TB) (dir, kver string) { return moddbtest.Debian61(t) }

func corpusCache(t testing.TB) string {
	t.Helper()
	base := os.Getenv("GOKMOD_CACHE")
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			t.Skipf("no cache directory: %v", err)
		}
		base = filepath.Join(c, "gokmod")
	}
	dir := filepath.Join(base, "depmod-corpus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Skipf("cache directory: %v", err)
	}
	return dir
}

// treeFiles are the files of a module directory that depmod reads besides
// the modules.
var treeFiles = []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"}

// moduleFiles lists the module files under dir/kernel, relative to dir.
func moduleFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isModuleFile(d.Name()) {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// artifact makes dir with build (into a temporary directory renamed into
// place) unless it exists.
func artifact(t testing.TB, dir string, build func(tmp string) error) string {
	t.Helper()
	if _, err := os.Stat(dir); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if err := build(tmp); err != nil {
		t.Fatalf("build %s: %v", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil && !os.IsExist(err) {
		if _, serr := os.Stat(dir); serr != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// recompressed returns a cached copy of Debian's 6.1 module directory
// (kernel/ and the files depmod reads) with every module compressed as
// format.
func recompressed(t testing.TB, format compression.Format) (dir, kver string) {
	t.Helper()
	src, kver := debian61(t)
	mods := moduleFiles(t, src)
	h := sha256.New()
	for _, f := range append(mods, treeFiles...) {
		st, err := os.Stat(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d %d\n", f, st.Size(), st.ModTime().UnixNano())
	}
	key := kver + "-" + format.String() + "-" + hex.EncodeToString(h.Sum(nil))[:16]
	ext := map[compression.Format]string{compression.XZ: ".xz", compression.Zstd: ".zst"}[format]
	dir = artifact(t, filepath.Join(corpusCache(t), key), func(tmp string) error {
		t.Logf("compressing %d modules of %s as %s into %s (once)", len(mods), src, format, tmp)
		work := make(chan string)
		errs := make(chan error, len(mods))
		var wg sync.WaitGroup
		for w := 0; w < runtime.GOMAXPROCS(0); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for rel := range work {
					errs <- compressFile(filepath.Join(src, rel), filepath.Join(tmp, rel+ext), format)
				}
			}()
		}
		for _, rel := range mods {
			work <- rel
		}
		close(work)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return copyTreeFiles(src, tmp)
	})
	return dir, kver
}

func compressFile(src, dst string, format compression.Format) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	out, err := compression.Compress(format, data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o644)
}

func copyTreeFiles(src, dst string) error {
	for _, f := range treeFiles {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, f), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// debian612Package is the Debian package of the 6.12 kernel the VM test
// bed also boots.
const debian612Package = "linux-image-6.12.117+deb12-amd64"

// debian612 returns Debian's 6.12 module directory as shipped (.ko.xz),
// downloaded with apt-get and unpacked with dpkg-deb once into the cache.
func debian612(t testing.TB) (dir, kver string) {
	t.Helper()
	kver = strings.TrimPrefix(debian612Package, "linux-image-")
	for _, tool := range []string{"apt-get", "dpkg-deb"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: cannot fetch %s", tool, debian612Package)
		}
	}
	root := artifact(t, filepath.Join(corpusCache(t), debian612Package), func(tmp string) error {
		t.Logf("downloading %s into %s (once)", debian612Package, tmp)
		args := []string{"download", debian612Package}
		if os.Geteuid() == 0 {
			args = append([]string{"-o", "APT::Sandbox::User=root"}, args...)
		}
		cmd := exec.Command("apt-get", args...)
		cmd.Dir = tmp
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("apt-get download %s: %v\n%s", debian612Package, err, out)
		}
		debs, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
		if len(debs) != 1 {
			return fmt.Errorf("apt-get download: %d .deb files", len(debs))
		}
		if out, err := exec.Command("dpkg-deb", "-x", debs[0], filepath.Join(tmp, "root")).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb -x: %v\n%s", err, out)
		}
		return os.Remove(debs[0])
	})
	return filepath.Join(root, "root", "lib", "modules", kver), kver
}

// linkTree makes a writable module tree for kver in a new temporary base
// directory whose kernel/ is a symlink to src's (depmod follows it) and
// whose other input files are copies. It returns the base directory.
func linkTree(t testing.TB, src, kver string) string {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "lib", "modules", kver)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(src, "kernel"), filepath.Join(dir, "kernel")); err != nil {
		t.Fatal(err)
	}
	for _, f := range treeFiles {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return base
}
