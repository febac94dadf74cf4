package moddbtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// KmodTool returns the path of kmod 30's tool called name (modinfo,
// modprobe, depmod, ...), or skips t.
func KmodTool(t testing.TB, name string) string {
	t.Helper()
	cands := []string{"/usr/sbin/" + name, "/sbin/" + name, "/usr/bin/" + name, "/bin/" + name}
	if p, err := exec.LookPath(name); err == nil {
		cands = append([]string{p}, cands...)
	}
	for _, p := range cands {
		out, err := exec.Command(p, "-V").Output()
		if err == nil && bytes.HasPrefix(out, []byte("kmod version 30")) {
			return p
		}
	}
	t.Skipf("kmod 30's %s not found (apt-get install kmod): the reference output is kmod 30's", name)
	return ""
}

// Debian61 returns Debian's installed 6.1 module directory and its kernel
// release, or skips t. It has the modules, modules.order and the text and
// binary indexes.
func Debian61(t testing.TB) (dir, kver string) {
	t.Helper()
	dirs, _ := filepath.Glob("/lib/modules/6.1.0-*-amd64")
	for i := len(dirs) - 1; i >= 0; i-- {
		d := dirs[i]
		_, e1 := os.Stat(filepath.Join(d, "modules.dep.bin"))
		_, e2 := os.Stat(filepath.Join(d, "modules.order"))
		if e1 == nil && e2 == nil {
			return d, filepath.Base(d)
		}
	}
	t.Skip("no /lib/modules/6.1.0-*-amd64 with its indexes (apt-get install linux-image-amd64)")
	return "", ""
}
