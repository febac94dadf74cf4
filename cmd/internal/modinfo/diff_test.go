package modinfo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/moddb/moddbtest"
)

// The differential test runs kmod's modinfo and ours on every module of an
// installed Debian kernel (CI installs kmod and linux-image-amd64) and
// fails on any byte of difference in stdout, stderr (our "hint:" lines
// aside) or exit status, except for the documented differences of
// allowedDiff.

// kmodModinfo finds kmod's modinfo and a kernel module tree, or skips.
func kmodModinfo(t *testing.T) (bin, kver string) {
	t.Helper()
	if testing.Short() {
		t.Skip("differential test skipped in -short mode")
	}
	_, kver = moddbtest.Debian61(t)
	return moddbtest.KmodTool(t, "modinfo"), kver
}

type result struct {
	stdout, stderr string
	status         int
}

func runKmod(t *testing.T, bin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := &exec.Cmd{Path: bin, Args: append([]string{"modinfo"}, args...), Stdout: &stdout, Stderr: &stderr}
	err := cmd.Run()
	status := 0
	if ee, ok := err.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", bin, err)
	}
	return result{stdout.String(), stderr.String(), status}
}

var hintLine = regexp.MustCompile(`(?m)^hint: .*\n`)

func runOurs(args ...string) result {
	var stdout, stderr bytes.Buffer
	env := &tool.Env{Args: append([]string{"modinfo"}, args...), Stdout: &stdout, Stderr: &stderr}
	status := Main(env)
	return result{stdout.String(), hintLine.ReplaceAllString(stderr.String(), ""), status}
}

// compare runs both tools on args in batches of modules; when a batch
// differs it is narrowed down to the modules that differ. It returns the
// number of modules compared.
func compare(t *testing.T, bin string, opts []string, mods []string, want func(r result, mod string) result) int {
	t.Helper()
	const batch = 64
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	var failures []string
	for i := 0; i < len(mods); i += batch {
		chunk := mods[i:min(i+batch, len(mods))]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			args := append(append([]string(nil), opts...), chunk...)
			ours := runOurs(args...)
			var theirs result
			if want == nil {
				theirs = runKmod(t, bin, args...)
			}
			if want == nil && ours == theirs {
				return
			}
			for _, m := range chunk {
				args := append(append([]string(nil), opts...), m)
				o := runOurs(args...)
				var k result
				if want != nil {
					k = want(runKmod(t, bin, append(append([]string(nil), opts...), strings.TrimSuffix(m, ".gz"))...), m)
				} else {
					k = runKmod(t, bin, args...)
				}
				if o != k {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("modinfo %s:\n%s", strings.Join(args, " "), diffResults(k, o)))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	sort.Strings(failures)
	for i, f := range failures {
		if i == 20 {
			t.Errorf("... and %d more differences", len(failures)-20)
			break
		}
		t.Error(f)
	}
	return len(mods)
}

func diffResults(kmod, ours result) string {
	var b strings.Builder
	if kmod.status != ours.status {
		fmt.Fprintf(&b, "exit status %d, kmod %d\n", ours.status, kmod.status)
	}
	if kmod.stdout != ours.stdout {
		fmt.Fprintf(&b, "stdout:\n%s\nkmod stdout:\n%s\n", ours.stdout, kmod.stdout)
	}
	if kmod.stderr != ours.stderr {
		fmt.Fprintf(&b, "stderr:\n%s\nkmod stderr:\n%s\n", ours.stderr, kmod.stderr)
	}
	return b.String()
}

func moduleFiles(t *testing.T, kver string) []string {
	t.Helper()
	var mods []string
	root := "/lib/modules/" + kver + "/kernel"
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			mods = append(mods, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) == 0 {
		t.Skipf("no plain .ko modules under %s", root)
	}
	return mods
}

// recompress writes a compressed copy of every module under dir with the
// CLI compressor, which reads a symlink to the module (with -f) and writes
// the copy next to it: few processes, two at a time, for speed. It returns
// the copies' paths.
func recompress(t *testing.T, mods []string, dir, ext string, cmdline ...string) []string {
	t.Helper()
	if _, err := exec.LookPath(cmdline[0]); err != nil {
		t.Skipf("%s not installed", cmdline[0])
	}
	links := make([]string, len(mods))
	for i, m := range mods {
		links[i] = filepath.Join(dir, strings.TrimPrefix(m, "/"))
		if err := os.MkdirAll(filepath.Dir(links[i]), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(m, links[i]); err != nil {
			t.Fatal(err)
		}
	}
	const batch = 256
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	errs := make(chan error, len(mods)/batch+1)
	for i := 0; i < len(links); i += batch {
		chunk := links[i:min(i+batch, len(links))]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			args := append(append(cmdline[1:len(cmdline):len(cmdline)], "-k", "-f"), chunk...)
			if out, err := exec.Command(cmdline[0], args...).CombinedOutput(); err != nil {
				errs <- fmt.Errorf("%s: %v\n%s", cmdline[0], err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	out := make([]string, len(links))
	for i, l := range links {
		out[i] = l + ext
	}
	return out
}

func TestDiffFiles(t *testing.T) {
	bin, kver := kmodModinfo(t)
	mods := moduleFiles(t, kver)
	n := compare(t, bin, nil, mods, nil)
	t.Logf("%d modules: plain files identical to kmod", n)

	// Options on a sample of the modules.
	var sample []string
	for i := 0; i < len(mods); i += 25 {
		sample = append(sample, mods[i])
	}
	for _, opts := range [][]string{
		{"-0"}, {"-F", "parm"}, {"-p"}, {"-0", "-p"}, {"-F", "alias"}, {"-F", "signer"},
		{"-F", "sig_key"}, {"-F", "signature"}, {"-0", "-F", "signature"}, {"-a"}, {"-d"},
		{"-l"}, {"-n"}, {"-F", "name"}, {"-F", "vermagic"}, {"-F", "depends"},
		{"-F", "parmtype"}, {"-F", "nosuchfield"}, {"--field=license"}, {"-0F", "alias"},
	} {
		compare(t, bin, opts, sample, nil)
	}
	t.Logf("%d modules × 20 option sets identical to kmod", len(sample))
}

func TestDiffCompressed(t *testing.T) {
	bin, kver := kmodModinfo(t)
	mods := moduleFiles(t, kver)
	dir := t.TempDir()
	for _, c := range []struct {
		ext string
		cmd []string
	}{
		{".xz", []string{"xz", "-0", "-C", "crc32", "-T1"}},
		{".zst", []string{"zstd", "-q", "-1"}},
	} {
		start := time.Now()
		copies := recompress(t, mods, filepath.Join(dir, c.ext), c.ext, c.cmd...)
		made := time.Since(start)
		n := compare(t, bin, nil, copies, nil)
		t.Logf("%d %s copies identical to kmod (%v to compress, %v to compare)", n, c.ext,
			made.Round(time.Second), (time.Since(start) - made).Round(time.Second))
	}

	// kmod 30 as Debian builds it cannot read gzip: compare ours on a
	// .ko.gz copy with kmod on the plain file, filename adjusted.
	var gz []string
	for i := 0; i < len(mods); i += 5 {
		p := filepath.Join(dir, "gz", strings.TrimPrefix(mods[i], "/")) + ".gz"
		writeGzip(t, mods[i], p)
		gz = append(gz, p)
	}
	n := compare(t, bin, nil, gz, func(r result, mod string) result {
		plain := strings.TrimSuffix(mod, ".gz")
		r.stdout = strings.Replace(r.stdout, "filename:       "+plain+"\n", "filename:       "+mod+"\n", 1)
		return r
	})
	t.Logf("%d .gz copies identical to kmod's output on the plain file", n)
}

func writeGzip(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// kmod reads the plain copy next to it.
	if err := os.WriteFile(strings.TrimSuffix(dst, ".gz"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDiffLookups(t *testing.T) {
	bin, kver := kmodModinfo(t)
	dir := "/lib/modules/" + kver
	k := []string{"-k", kver}

	// Every module name of modules.dep, with '_' and '-' spellings.
	var names []string
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p, _, _ := strings.Cut(sc.Text(), ":")
		base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		base = strings.TrimSuffix(base, ".ko")
		names = append(names, base)
	}
	f.Close()
	t.Logf("%d names identical to kmod", compare(t, bin, k, names, nil))

	// Built-in modules.
	data, err := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	if err != nil {
		t.Fatal(err)
	}
	var builtins []string
	for _, l := range strings.Fields(string(data)) {
		builtins = append(builtins, strings.TrimSuffix(filepath.Base(l), ".ko"))
	}
	t.Logf("%d built-in names identical to kmod", compare(t, bin, k, builtins, nil))
	compare(t, bin, append(k, "-F", "name"), builtins[:min(20, len(builtins))], nil)
	compare(t, bin, append(k, "-m"), append(builtins[:min(20, len(builtins))], names[:min(20, len(names))]...), nil)

	// Aliases without wildcards from modules.alias, each once.
	data, err = os.ReadFile(filepath.Join(dir, "modules.alias"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var aliases []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "alias" && !strings.ContainsAny(f[1], "*?[") && !seen[f[1]] {
			seen[f[1]] = true
			aliases = append(aliases, f[1])
		}
	}
	t.Logf("%d aliases identical to kmod", compare(t, bin, append(k, "-F", "filename"), aliases, nil))
	compare(t, bin, k, aliases[:min(200, len(aliases))], nil)

	// Built-in aliases, symbols, concrete device ids and names that do not exist.
	extra := []string{"fs-ext4", "crc32c", "symbol:usb_register_driver", "symbol:nosuchsymbol",
		"usb:v1234p5678d0000dc00dsc00dp00ic03isc01ip01in00",
		"pci:v00008086d00001533sv00001234sd00005678bc02sc00i00",
		"vfat", "fs_vfat", "nosuchmodule", "a]b", "a[b", "/etc/passwd", "vfat.ko"}
	compare(t, bin, k, extra, nil)
	compare(t, bin, append(k, "-m"), extra, nil)

	// A base directory.
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "lib/modules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(root, "lib/modules", kver)); err != nil {
		t.Fatal(err)
	}
	compare(t, bin, []string{"-b", root, "-k", kver}, append(names[:20], extra...), nil)
}

func TestDiffUsage(t *testing.T) {
	bin, kver := kmodModinfo(t)
	for _, args := range [][]string{
		{}, {"-x"}, {"--fo"}, {"--f"}, {"--author=x"}, {"--field"}, {"-F"}, {"--se"},
		{"-k"}, {"-h"}, {"--help"}, {"-k", kver, "-h", "-x"}, {"-x", "-h"},
		{"-k", kver, "--", "-x"}, {"-k", kver, "nosuch1", "vfat", "nosuch2"},
		{"/nonexistent.ko"}, {"-n", "-k", kver, "vfat", "ext4"},
		{"../../../pkg/modfile/testdata/gokmod_params.signed.ko", "./../../../pkg/modfile/testdata/gokmod_user.ko"},
		{"-p", "../../../pkg/modfile/testdata/gokmod_params.ko"},
		{"-0", "../../../pkg/modfile/testdata/gokmod_params.ko"},
	} {
		k := runKmod(t, bin, args...)
		o := runOurs(args...)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			// gokmod's help documents --json (see README).
			o.stdout = strings.Replace(o.stdout, "\t    --json                  Print every field of each module as JSON\n", "", 1)
			o.stdout = strings.Replace(o.stdout, "\t    --image-limit=SIZE      Read modules of up to SIZE bytes decompressed (default 128M)\n", "", 1)
		}
		if len(args) > 2 && args[2] == "-h" {
			o.stdout = strings.Replace(o.stdout, "\t    --json                  Print every field of each module as JSON\n", "", 1)
			o.stdout = strings.Replace(o.stdout, "\t    --image-limit=SIZE      Read modules of up to SIZE bytes decompressed (default 128M)\n", "", 1)
		}
		if k != o {
			t.Errorf("modinfo %q:\n%s", args, diffResults(k, o))
		}
	}
}

// TestDiffSKID checks the one documented difference in the default
// output: a signature whose signer is named by subject key id (sign-file
// -k), which kmod 30 cannot decode and leaves out entirely.
func TestDiffSKID(t *testing.T) {
	bin, _ := kmodModinfo(t)
	const signFile = "/usr/lib/linux-kbuild-6.1/scripts/sign-file"
	if _, err := os.Stat(signFile); err != nil {
		t.Skip("no sign-file (apt-get install linux-kbuild-6.1)")
	}
	fixtures := filepath.Join("..", "..", "..", "pkg", "modfile", "testdata")
	data, err := os.ReadFile(filepath.Join(fixtures, "gokmod_params.ko"))
	if err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(t.TempDir(), "skid.ko")
	if err := os.WriteFile(mod, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(signFile, "-k", "sha256", filepath.Join(fixtures, "signing_key.pem"),
		filepath.Join(fixtures, "signing_key.x509"), mod).CombinedOutput()
	if err != nil {
		t.Fatalf("sign-file -k: %v\n%s", err, out)
	}
	k := runKmod(t, bin, mod)
	o := runOurs(mod)
	sigLines := regexp.MustCompile(`(?m)^(sig_id|signer|sig_key|sig_hashalgo|signature):.*\n(\t\t.*\n)*`)
	if !sigLines.MatchString(o.stdout) {
		t.Fatalf("our output has no signature lines:\n%s", o.stdout)
	}
	if sigLines.MatchString(k.stdout) {
		t.Logf("kmod decodes SKID signatures here: compare in full")
	} else {
		o.stdout = sigLines.ReplaceAllString(o.stdout, "")
	}
	if k != o {
		t.Errorf("modinfo %s:\n%s", mod, diffResults(k, o))
	}
	if !strings.Contains(runOurs(mod).stdout, "sig_key:        "+skidOf(t, filepath.Join(fixtures, "signing_key.x509"))+"\n") {
		t.Errorf("our sig_key is not the certificate's subject key id:\n%s", runOurs(mod).stdout)
	}
}

// skidOf returns the subject key identifier of a DER certificate in
// modinfo's hex format.
func skidOf(t *testing.T, path string) string {
	t.Helper()
	der, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return hexString(cert.SubjectKeyId)
}

// TestDiffBadFiles compares the error lines for files that are not modules:
// empty, shorter than any magic, not ELF, and a real module cut short at
// sizes around its headers and sections.
func TestDiffBadFiles(t *testing.T) {
	bin, _ := kmodModinfo(t)
	mod, err := os.ReadFile("../../../pkg/modfile/testdata/gokmod_params.signed.ko")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"empty.ko": nil, "magic3.ko": []byte("\x7fEL"), "hello.ko": []byte("hello\n"),
		"text.ko": []byte("#!/bin/sh\necho not a module\n"), "elfhdr.ko": mod[:16],
	}
	for _, n := range []int{17, 63, 64, 65, 1000, len(mod) / 2, len(mod) - 1} {
		files[fmt.Sprintf("cut%d.ko", n)] = mod[:n]
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{path}, {"-F", "license", path}} {
			if k, o := runKmod(t, bin, args...), runOurs(args...); k != o {
				t.Errorf("modinfo %q:\n%s", args, diffResults(k, o))
			}
		}
	}
}
