package kmodsign

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/modsig"
)

// TestMain makes the test binary gokmodsign itself when asked, so that the
// signal tests run the real Main in a process of its own.
func TestMain(m *testing.M) {
	if os.Getenv("GOKMOD_TEST_KMODSIGN") == "1" {
		env := tool.OS()
		env.Args = append([]string{"gokmodsign"}, os.Args[1:]...)
		os.Exit(Main(env))
	}
	os.Exit(m.Run())
}

// batch writes n unsigned modules into a new directory.
func batch(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		write(t, filepath.Join(dir, fmt.Sprintf("d%d", i%4), fmt.Sprintf("m%03d.ko", i)), module)
	}
	return dir
}

// start runs gokmodsign on dir in a process of its own.
func start(t *testing.T, dir string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	argv := append(args, "sha256", abs(keyPath), abs(certPath), dir)
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(os.Environ(), "GOKMOD_TEST_KMODSIGN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// check walks dir: every module must be whole (an ELF module, unsigned
// or with a signature that parses); it returns the temporary files found
// and how many modules are signed.
func check(t *testing.T, dir string) (temps []string, signed int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(d.Name(), ".gokmodsign-") {
			temps = append(temps, p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := modfile.NewFileBytes(data); err != nil {
			t.Errorf("%s: not a whole module: %v", p, err)
			return nil
		}
		_, sig, err := modsig.Split(data)
		if err != nil {
			t.Errorf("%s: signature does not parse: %v", p, err)
		}
		if sig != nil {
			signed++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return temps, signed
}

// waitSigned waits until at least one module in dir is signed, so that a
// signal arrives while the batch runs.
func waitSigned(t *testing.T, dir string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		found := false
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !found {
				if b, err := os.ReadFile(p); err == nil && bytes.HasSuffix(b, []byte(modsig.Magic)) {
					found = true
				}
			}
			return nil
		})
		if found {
			return
		}
	}
	t.Fatal("no module was signed within 30s")
}

// TestInterruptExit: SIGINT and SIGTERM stop a batch between modules with
// the shell's status (130, 143), a report of what was done, every module
// whole and no temporary file.
func TestInterruptExit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gokmodsign processes")
	}
	for _, tt := range []struct {
		sig    syscall.Signal
		status int
		name   string
	}{{syscall.SIGINT, 130, "SIGINT"}, {syscall.SIGTERM, 143, "SIGTERM"}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := batch(t, 400)
			cmd, stderr := start(t, dir, "-j", "2")
			waitSigned(t, dir)
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if got := cmd.ProcessState.ExitCode(); got != tt.status {
				t.Errorf("exit status after %s = %d, want %d; stderr:\n%s", tt.name, got, tt.status, stderr)
			}
			want := "gokmodsign: interrupted by " + tt.name + ": signed "
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr after %s = %q, want a line starting %q", tt.name, stderr, want)
			}
			temps, signed := check(t, dir)
			if len(temps) > 0 {
				t.Errorf("temporary files left after %s: %q", tt.name, temps)
			}
			if signed == 0 || signed == 400 {
				t.Errorf("%d of 400 modules signed after %s, want some but not all", signed, tt.name)
			}
		})
	}
}

// TestKillLeavesNothing: SIGKILL at 20 random points of a batch never
// leaves a half-written module, and never a temporary file that the next
// run does not remove (and say so); the last run signs every module.
func TestKillLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gokmodsign processes")
	}
	const n = 200
	dir := batch(t, n)
	leftover := 0
	for i := range 20 {
		cmd, stderr := start(t, dir)
		time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		temps, _ := check(t, dir)
		if len(temps) > 0 {
			// Only a finished file, named just before its rename, can
			// be left; the next run removes it.
			leftover += len(temps)
			t.Logf("kill %d left %d temporary files (stderr %q)", i+1, len(temps), stderr)
		}
	}
	before, _ := check(t, dir)
	cmd, stderr := start(t, dir)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v; stderr:\n%s", err, stderr)
	}
	if len(before) > 0 && !strings.Contains(stderr.String(), "temporary files left by an interrupted run") {
		t.Errorf("the final run's stderr = %q, want a note on the temporary files it removed", stderr)
	}
	temps, signed := check(t, dir)
	if len(temps) > 0 || signed != n {
		t.Errorf("after the final run: temporary files %q, %d of %d modules signed", temps, signed, n)
	}
	t.Logf("20 SIGKILLs: %d temporary files left in all (removed by the next run), every module whole", leftover)
}
