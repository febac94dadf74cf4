package depmod

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/gokmod/pkg/compression"
)

// outputs are the files kmod 30's depmod writes.
var outputs = []string{
	"modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
	"modules.softdep", "modules.symbols", "modules.symbols.bin",
	"modules.builtin.bin", "modules.builtin.alias.bin", "modules.devname",
}

// outcome is what one depmod run left: the files it wrote (then removed,
// so that the next run starts from the same tree), its messages and
// whether it failed.
type outcome struct {
	files  map[string][]byte
	stderr string
	failed bool
}

func takeOutputs(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, f := range outputs {
		p := filepath.Join(dir, f)
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		files[f] = data
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	return files
}

// runKmod runs kmod's depmod -b base [args] kver.
func runKmod(t testing.TB, base, kver string, args ...string) outcome {
	t.Helper()
	bin := kmodDepmod(t)
	cmd := exec.Command(bin, append(append([]string{"-b", base}, args...), kver)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run %s: %v", bin, err)
	}
	return outcome{files: takeOutputs(t, filepath.Join(base, "lib", "modules", kver)), stderr: stderr.String(), failed: err != nil}
}

// runGo runs Build and Write with o on base's kver, printing messages as
// the depmod command does.
func runGo(t testing.TB, base, kver string, o Options) outcome {
	t.Helper()
	var stderr strings.Builder
	o.BaseDir, o.KVer = base, kver
	o.Log = func(l Level, msg string) { fmt.Fprintf(&stderr, "depmod: %s: %s\n", l, msg) }
	res, err := Build(o)
	if err == nil {
		if err = res.Write(); err != nil {
			fmt.Fprintf(&stderr, "depmod: FATAL: %s\n", err)
		}
	}
	return outcome{files: takeOutputs(t, o.OutputDir()), stderr: stderr.String(), failed: err != nil}
}

// same fails the test where the two runs differ.
func same(t testing.TB, kmod, gok outcome) {
	t.Helper()
	if kmod.failed != gok.failed {
		t.Errorf("kmod failed: %v, gokmod failed: %v", kmod.failed, gok.failed)
	}
	for _, f := range outputs {
		want, okW := kmod.files[f]
		got, okG := gok.files[f]
		switch {
		case okW != okG:
			t.Errorf("%s: kmod wrote it: %v, gokmod wrote it: %v", f, okW, okG)
		case !bytes.Equal(want, got):
			t.Errorf("%s: %d bytes, kmod wrote %d; first difference at byte %d", f, len(got), len(want), firstDiff(want, got))
		}
	}
	if kmod.stderr != gok.stderr {
		t.Errorf("messages differ:\nkmod:\n%s\ngokmod:\n%s", kmod.stderr, gok.stderr)
	}
}

func firstDiff(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// noConfig keeps the host's depmod.d out of both runs.
func noConfig(t testing.TB) string {
	t.Helper()
	return t.TempDir()
}

func TestDebian61(t *testing.T) {
	src, kver := debian61(t)
	base := linkTree(t, src, kver)
	cfg := noConfig(t)
	kmod := runKmod(t, base, kver, "-C", cfg)
	if len(kmod.files) != len(outputs) {
		t.Fatalf("kmod wrote %d files, want %d: %s", len(kmod.files), len(outputs), kmod.stderr)
	}
	same(t, kmod, runGo(t, base, kver, Options{ConfigPaths: []string{cfg}}))
}

// TestDebian61ErrSyms checks -e's warnings with -E and -F: the
// Module.symvers has some symbols removed and some CRCs changed, so that
// there is something to warn about.
func TestDebian61ErrSyms(t *testing.T) {
	src, kver := debian61(t)
	symvers := "/usr/src/linux-headers-" + kver + "/Module.symvers"
	data, err := os.ReadFile(symvers)
	if err != nil {
		t.Skipf("no %s (apt-get install linux-headers-%s)", symvers, kver)
	}
	var edited bytes.Buffer
	for i, line := range strings.SplitAfter(string(data), "\n") {
		switch {
		case i%97 == 0:
			continue // removed: "needs unknown symbol"
		case i%89 == 0 && strings.HasPrefix(line, "0x"):
			line = "0x00000001" + line[10:] // "disagrees about version"
		}
		edited.WriteString(line)
	}
	dir := t.TempDir()
	symvers = filepath.Join(dir, "Module.symvers")
	if err := os.WriteFile(symvers, edited.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sysmap := "/boot/System.map-" + kver
	cfg := noConfig(t)
	base := linkTree(t, src, kver)
	for _, tc := range []struct {
		name string
		args []string
		o    Options
	}{
		{"symvers", []string{"-e", "-E", symvers}, Options{ErrSyms: true, Symvers: symvers}},
		{"sysmap", []string{"-e", "-F", sysmap}, Options{ErrSyms: true, SystemMap: sysmap}},
		{"e alone", []string{"-e"}, Options{ErrSyms: true}},
		{"missing symvers", []string{"-e", "-E", filepath.Join(dir, "none")}, Options{ErrSyms: true, Symvers: filepath.Join(dir, "none")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.SystemMap != "" {
				if _, err := os.Stat(tc.o.SystemMap); err != nil {
					t.Skipf("no %s", tc.o.SystemMap)
				}
			}
			tc.o.ConfigPaths = []string{cfg}
			kmod := runKmod(t, base, kver, append([]string{"-C", cfg}, tc.args...)...)
			gok := runGo(t, base, kver, tc.o)
			// kmod says FATAL for the missing file; Build returns the error
			// after logging the same line.
			same(t, kmod, gok)
			if tc.name == "symvers" && !strings.Contains(kmod.stderr, "disagrees about version") {
				t.Errorf("the edited Module.symvers gave no version warning:\n%s", kmod.stderr)
			}
		})
	}
}

func TestDebian61Compressed(t *testing.T) {
	kmodDepmod(t)
	for _, format := range []compression.Format{compression.Zstd, compression.XZ} {
		t.Run(format.String(), func(t *testing.T) {
			src, kver := recompressed(t, format)
			base := linkTree(t, src, kver)
			cfg := noConfig(t)
			kmod := runKmod(t, base, kver, "-C", cfg)
			if !bytes.Contains(kmod.files["modules.dep"], []byte(".ko"+map[compression.Format]string{compression.XZ: ".xz", compression.Zstd: ".zst"}[format]+":")) {
				t.Fatalf("kmod's modules.dep of the %s tree lists no compressed module", format)
			}
			same(t, kmod, runGo(t, base, kver, Options{ConfigPaths: []string{cfg}}))
		})
	}
}

func TestDebian612(t *testing.T) {
	kmodDepmod(t)
	src, kver := debian612(t)
	base := linkTree(t, src, kver)
	cfg := noConfig(t)
	kmod := runKmod(t, base, kver, "-C", cfg)
	if len(kmod.files["modules.dep"]) < 1000 {
		t.Fatalf("kmod's modules.dep of %s is %d bytes", src, len(kmod.files["modules.dep"]))
	}
	same(t, kmod, runGo(t, base, kver, Options{ConfigPaths: []string{cfg}}))
}
