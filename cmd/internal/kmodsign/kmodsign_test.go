package kmodsign

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/gokmod/gokmod/cmd/internal/modinfo"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
)

const signFile = "/usr/lib/linux-kbuild-6.1/scripts/sign-file"

// Key and certificate checked in for package modsig.
var (
	keyPath  = filepath.Join("..", "..", "..", "pkg", "modsig", "testdata", "rsa2048.pem")
	certPath = filepath.Join("..", "..", "..", "pkg", "modsig", "testdata", "rsa2048.der")
)

// run runs gokmodsign in-process and returns its exit status and output.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &tool.Env{Args: append([]string{"gokmodsign"}, args...), Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
	code := Main(env)
	return code, stdout.String(), stderr.String()
}

var module = modfiletest.Module("license=GPL\x00name=fake\x00vermagic=6.1.0 SMP mod_unload\x00")

func write(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenCLI: the same command line gives sign-file's bytes.
func TestGoldenCLI(t *testing.T) {
	if _, err := os.Stat(signFile); err != nil {
		t.Skipf("needs the kernel's sign-file (Debian package linux-kbuild-6.1): %v", err)
	}
	for _, args := range [][]string{
		{"sha256"}, {"sha512"}, {"-k", "sha384"}, {"-p", "sha1"}, {"-d", "sha224"}, {"-pk", "sha3-256"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := t.TempDir()
			ours := write(t, filepath.Join(dir, "ours", "m.ko"), module)
			theirs := write(t, filepath.Join(dir, "theirs", "m.ko"), module)
			all := append(append([]string(nil), args...), keyPath, certPath)
			if out, err := exec.Command(signFile, append(all, theirs)...).CombinedOutput(); err != nil {
				t.Fatalf("sign-file: %v\n%s", err, out)
			}
			if code, _, stderr := run(t, append(all, ours)...); code != 0 {
				t.Fatalf("gokmodsign %v = %d, stderr %q", args, code, stderr)
			}
			for _, name := range []string{"m.ko", "m.ko.p7s"} {
				want, errT := os.ReadFile(filepath.Join(dir, "theirs", name))
				got, errO := os.ReadFile(filepath.Join(dir, "ours", name))
				if (errT == nil) != (errO == nil) {
					t.Errorf("%s: sign-file's exists: %v, ours: %v", name, errT == nil, errO == nil)
				} else if !bytes.Equal(got, want) {
					t.Errorf("%s differs from sign-file's", name)
				}
			}
		})
	}
	t.Run("raw signature and destination", func(t *testing.T) {
		dir := t.TempDir()
		mod := write(t, filepath.Join(dir, "m.ko"), module)
		if out, err := exec.Command(signFile, "-d", "sha256", keyPath, certPath, mod).CombinedOutput(); err != nil {
			t.Fatalf("sign-file -d: %v\n%s", err, out)
		}
		want := filepath.Join(dir, "theirs.ko")
		if out, err := exec.Command(signFile, "-s", mod+".p7s", "sha256", certPath, mod, want).CombinedOutput(); err != nil {
			t.Fatalf("sign-file -s: %v\n%s", err, out)
		}
		got := filepath.Join(dir, "ours.ko")
		if code, _, stderr := run(t, "-s", mod+".p7s", "sha256", certPath, mod, got); code != 0 {
			t.Fatalf("gokmodsign -s = %d, stderr %q", code, stderr)
		}
		if !bytes.Equal(read(t, got), read(t, want)) {
			t.Errorf("gokmodsign -s output differs from sign-file -s")
		}
		if !bytes.Equal(read(t, mod), module) {
			t.Errorf("gokmodsign with a destination changed the module")
		}
	})
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string // regexp on stdout+stderr
	}{
		{"no arguments", nil, 2, `^Usage: gokmodsign \[-dpkD\]`},
		{"three arguments", []string{"sha256", "k", "c"}, 2, `Usage:`},
		{"unknown option", []string{"-x", "sha256", "k", "c", "m"}, 2, `^gokmodsign: invalid option -- 'x'\nUsage: gokmodsign \[-dpkD\]`},
		{"-s with -k", []string{"-s", "-k", "sig", "sha256", "c", "m"}, 2, `-d, -p and -k do not apply`},
		{"help", []string{"-h"}, 0, `(?s)^Usage: gokmodsign.*verify checks`},
		{"version", []string{"-V"}, 0, `^gokmodsign: gokmod version`},
		{"verify without module", []string{"verify", "--cert", "c"}, 2, `no module given`},
		{"-d with -D", []string{"-d", "-D", "sha256", "k", "c", "m"}, 2, `give one of them\nUsage:`},
		{"empty destination", []string{"sha256", "k", "c", "m", ""}, 2, `empty argument is not a file name\nUsage:`},
		{"empty module", []string{"sha256", "k", "c", ""}, 2, `empty argument is not a file name\nUsage:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.code || !regexp.MustCompile(tt.out).MatchString(stdout+stderr) {
				t.Errorf("gokmodsign %q = %d, %q, want %d and output matching %q", tt.args, code, stdout+stderr, tt.code, tt.out)
			}
		})
	}
}

// otherKey writes an ECDSA key and its certificate to dir.
func otherKey(t *testing.T, dir string) (key, cert string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "other key"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		SubjectKeyId: []byte{1, 2, 3, 4},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	sec1, _ := x509.MarshalECPrivateKey(k)
	key = write(t, filepath.Join(dir, "other.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	cert = write(t, filepath.Join(dir, "other.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return key, cert
}

// TestBadInputs: each is one clear error line, status 1, and the module as
// it was.
func TestBadInputs(t *testing.T) {
	keys := t.TempDir()
	otherK, otherC := otherKey(t, keys)
	signed := func() []byte {
		key, _ := cms.ParsePrivateKey(read(t, keyPath))
		cert, _ := cms.ParseCertificate(read(t, certPath))
		s, _ := cms.NewSigner(key, cert, cms.Options{Hash: crypto.SHA256})
		block, err := s.Sign(module)
		if err != nil {
			t.Fatal(err)
		}
		return append(bytes.Clone(module), block...)
	}()
	lying := bytes.Clone(signed)
	binary.BigEndian.PutUint32(lying[len(lying)-len(modsig.Magic)-4:], 1<<20)
	tests := []struct {
		name   string
		data   []byte
		args   func(mod string) []string
		stderr string
	}{
		{"key and certificate do not match", module, func(m string) []string { return []string{"sha256", otherK, certPath, m} }, `private key does not match the certificate\nhint: `},
		{"unknown hash", module, func(m string) []string { return []string{"sha257", keyPath, certPath, m} }, `unknown hash algorithm "sha257"`},
		{"missing key", module, func(m string) []string { return []string{"sha256", "/nonexistent/key.pem", certPath, m} }, `open /nonexistent/key.pem: no such file or directory`},
		{"unreadable certificate", module, func(m string) []string { return []string{"sha256", keyPath, keys, m} }, `is a directory`},
		{"certificate is a key", module, func(m string) []string { return []string{"sha256", keyPath, keyPath, m} }, `want a DER or PEM X.509 certificate`},
		{"not elf", []byte("plain text, not a module\n"), func(m string) []string { return []string{"sha256", keyPath, certPath, m} }, `not a kernel module: not an ELF file`},
		{"truncated", module[:100], func(m string) []string { return []string{"sha256", keyPath, certPath, m} }, `file truncated`},
		{"trailer lies about its length", lying, func(m string) []string { return []string{"sha256", keyPath, certPath, m} }, `existing signature: malformed module signature: signature length 1048576 exceeds`},
		{"unwritable destination", module, func(m string) []string { return []string{"sha256", keyPath, certPath, m, "/nonexistent/dir/out.ko"} }, `write /nonexistent/dir/out.ko: create temporary file`},
		{"raw signature by another key", module, func(m string) []string {
			return []string{"-s", write(t, filepath.Join(keys, "raw.p7s"), signed[len(module):len(signed)-len(modsig.Magic)-12]), "sha256", otherC, m}
		}, `unusable raw signature: unknown signer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mod := write(t, filepath.Join(dir, "m.ko"), tt.data)
			code, _, stderr := run(t, tt.args(mod)...)
			if code != 1 || !regexp.MustCompile(`^gokmodsign: ERROR: .*`+tt.stderr).MatchString(stderr) {
				t.Errorf("gokmodsign = %d, stderr %q, want 1 and %q", code, stderr, tt.stderr)
			}
			if !bytes.Equal(read(t, mod), tt.data) {
				t.Errorf("gokmodsign changed the module on error")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("gokmodsign left %d files in the module's directory, want 1", len(entries))
			}
		})
	}
}

func TestResignAndAppend(t *testing.T) {
	dir := t.TempDir()
	mod := write(t, filepath.Join(dir, "m.ko"), module)
	if code, _, stderr := run(t, "sha256", keyPath, certPath, mod); code != 0 || stderr != "" {
		t.Fatalf("first signing = %d, %q", code, stderr)
	}
	once := read(t, mod)
	code, _, stderr := run(t, "sha512", keyPath, certPath, mod)
	if code != 0 || !strings.Contains(stderr, "note: "+mod+" was already signed; its old signature was replaced") {
		t.Errorf("re-signing = %d, %q, want 0 and a note", code, stderr)
	}
	if got := bytes.Count(read(t, mod), []byte(modsig.Magic)); got != 1 {
		t.Errorf("re-signed module has %d signatures, want 1", got)
	}
	write(t, mod, once)
	if code, _, stderr := run(t, "--append", "sha512", keyPath, certPath, mod); code != 0 || stderr != "" {
		t.Errorf("--append = %d, %q", code, stderr)
	}
	if got := bytes.Count(read(t, mod), []byte(modsig.Magic)); got != 2 {
		t.Errorf("--append gave %d signatures, want 2", got)
	}
}

func TestTreeAndVerify(t *testing.T) {
	dir := t.TempDir()
	keys := t.TempDir()
	_, otherC := otherKey(t, keys)
	var mods []string
	for _, name := range []string{"a/one.ko", "a/b/two.ko", "three.ko", "c/d/e/four.ko"} {
		mods = append(mods, write(t, filepath.Join(dir, name), module))
	}
	write(t, filepath.Join(dir, "modules.dep"), []byte("a/one.ko:\n"))
	code, stdout, stderr := run(t, "-j", "3", "sha256", keyPath, certPath, dir)
	if code != 0 || stdout != "" || !regexp.MustCompile(`^gokmodsign: signed 4 of 4 modules in [0-9.]+s \(0 had a signature that was replaced\), 0 failed\n$`).MatchString(stderr) {
		t.Fatalf("tree signing = %d, %q, %q", code, stdout, stderr)
	}
	code, stdout, _ = run(t, "verify", "--cert", otherC, "--cert", certPath, dir)
	if code != 0 || strings.Count(stdout, `: ok (signer "gokmod test key", rsa sha256, certificate "gokmod test key")`) != 4 {
		t.Errorf("verify = %d, %q, want 0 and 4 ok lines", code, stdout)
	}

	// Tamper: one byte of the body, one of the signature; one module
	// unsigned; one signed by a key verify is not given.
	flip := func(path string, at func(n int) int) {
		b := read(t, path)
		b[at(len(b))] ^= 0x20
		write(t, path, b)
	}
	flip(mods[0], func(int) int { return 70 })
	flip(mods[1], func(n int) int { return n - len(modsig.Magic) - 12 - 10 })
	write(t, mods[2], module)
	code, stdout, _ = run(t, "verify", "--cert", certPath, mods[0], mods[1], mods[2], mods[3])
	want := []string{
		mods[0] + `: bad signature \(pkcs7_trust.verify: signer 1, trusted certificate "gokmod test key": RSA sha256 signature does not verify \(kernel: EKEYREJECTED\)\)`,
		mods[1] + `: bad signature \(pkcs7_trust.verify: .*\(kernel: EKEYREJECTED\)\)`,
		mods[2] + `: not signed \(signing.marker: .*\(kernel: ENODATA, EKEYREJECTED under enforcement\)\)`,
		mods[3] + `: ok `,
	}
	if code != 1 || !regexp.MustCompile(strings.Join(want, ".*\n")).MatchString(stdout) {
		t.Errorf("verify of tampered modules = %d:\n%s\nwant 1 and lines matching\n%s", code, stdout, strings.Join(want, "\n"))
	}
	code, stdout, _ = run(t, "verify", "--cert", otherC, mods[3])
	if code != 1 || !strings.Contains(stdout, mods[3]+`: unknown signer (pkcs7_trust.no_key: no signer's key is among the trusted certificates (signer 1: serial 8f0102030405060708) (kernel: ENOKEY, EKEYREJECTED under enforcement))`) {
		t.Errorf("verify with the wrong certificate = %d, %q", code, stdout)
	}

	// A tree with one module that cannot be signed: the others are
	// signed, the summary says so, the status is 1.
	write(t, mods[0], []byte("not a module"))
	code, _, stderr = run(t, "--many", "sha256", keyPath, certPath, mods[0], mods[1])
	if code != 1 || !strings.Contains(stderr, "ERROR: "+mods[0]+": not a kernel module") || !strings.Contains(stderr, "signed 1 of 2 modules") || !strings.Contains(stderr, "(1 had a signature that was replaced), 1 failed") {
		t.Errorf("--many with a bad module = %d, %q", code, stderr)
	}
}

// TestModinfoShowsOurSignatures: gomodinfo (and kmod's modinfo, when
// installed) print the signer, sig_key and sig_hashalgo of what
// gokmodsign wrote.
func TestModinfoShowsOurSignatures(t *testing.T) {
	dir := t.TempDir()
	otherK, otherC := otherKey(t, dir)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"rsa sha512", []string{"sha512", keyPath, certPath}, []string{
			"sig_id:         PKCS#7",
			"signer:         gokmod test key",
			"sig_key:        8F:01:02:03:04:05:06:07:08",
			"sig_hashalgo:   sha512",
		}},
		{"ecdsa sha384", []string{"sha384", otherK, otherC}, []string{
			"signer:         other key",
			"sig_key:        2A",
			"sig_hashalgo:   sha384",
		}},
	}
	kmodModinfo := "/sbin/modinfo"
	if _, err := os.Stat(kmodModinfo); err != nil {
		kmodModinfo = ""
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := write(t, filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".ko"), module)
			if code, _, stderr := run(t, append(tt.args, mod)...); code != 0 {
				t.Fatalf("gokmodsign = %d, %q", code, stderr)
			}
			var stdout, stderr bytes.Buffer
			env := &tool.Env{Args: []string{"modinfo", mod}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
			if code := modinfo.Main(env); code != 0 {
				t.Fatalf("gomodinfo %s = %d, %q", mod, code, stderr.String())
			}
			for _, line := range tt.want {
				if !strings.Contains(stdout.String(), "\n"+line+"\n") {
					t.Errorf("gomodinfo output lacks %q:\n%s", line, stdout.String())
				}
			}
			if kmodModinfo == "" {
				return
			}
			out, err := exec.Command(kmodModinfo, mod).Output()
			if err != nil {
				t.Fatalf("kmod modinfo: %v", err)
			}
			if string(out) != stdout.String() {
				t.Errorf("gomodinfo output differs from kmod's:\n got %q\nwant %q", stdout.String(), out)
			}
		})
	}
}

// TestCompressedModules: a tree's compressed modules are skipped with a
// note when signing (they must be signed before compression), and
// verified after decompression.
func TestCompressedModules(t *testing.T) {
	dir := t.TempDir()
	mod := write(t, filepath.Join(dir, "plain.ko"), module)
	if code, _, stderr := run(t, "sha256", keyPath, certPath, mod); code != 0 {
		t.Fatalf("gokmodsign = %d, %q", code, stderr)
	}
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	enc.Write(read(t, mod))
	enc.Close()
	zst := write(t, filepath.Join(dir, "sub", "packed.ko.zst"), buf.Bytes())

	code, _, stderr := run(t, "sha256", keyPath, certPath, dir)
	if code != 0 || !strings.Contains(stderr, "note: skipped 1 compressed modules (such as "+zst+")") || !strings.Contains(stderr, "signed 1 of 1 modules") {
		t.Errorf("tree signing with a compressed module = %d, %q", code, stderr)
	}
	if got := read(t, zst); !bytes.Equal(got, buf.Bytes()) {
		t.Errorf("tree signing changed the compressed module")
	}
	code, _, stderr = run(t, "sha256", keyPath, certPath, zst)
	if code != 1 || !strings.Contains(stderr, "module is compressed; sign it before compressing (zstd)\nhint: decompress it") {
		t.Errorf("signing a compressed module = %d, %q", code, stderr)
	}
	code, stdout, _ := run(t, "verify", "--cert", certPath, dir)
	if code != 0 || !strings.Contains(stdout, zst+": ok") || !strings.Contains(stdout, mod+": ok") {
		t.Errorf("verify of a tree with a compressed module = %d, %q", code, stdout)
	}
}

// New files honour the umask, as sign-file's do; an existing destination
// keeps its mode.
func TestUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	src := write(t, filepath.Join(dir, "src.ko"), module)
	dst := filepath.Join(dir, "new.ko")
	if code, _, stderr := run(t, "-p", "sha256", keyPath, certPath, src, dst); code != 0 {
		t.Fatalf("gokmodsign -p = %d, %s", code, stderr)
	}
	for _, p := range []string{dst, src + ".p7s"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: mode %o under umask 077, want 600", filepath.Base(p), got)
		}
	}
	if err := os.Chmod(dst, 0o640); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "sha256", keyPath, certPath, dst); code != 0 {
		t.Fatalf("gokmodsign (in place) = %d, %s", code, stderr)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o640 {
		t.Errorf("re-signed in place: mode %o, want the module's 640", fi.Mode().Perm())
	}
}

// The note about a replaced signature comes only when a re-signed module
// was written.
func TestReplacedNote(t *testing.T) {
	dir := t.TempDir()
	m := write(t, filepath.Join(dir, "m.ko"), module)
	if code, _, stderr := run(t, "sha256", keyPath, certPath, m); code != 0 {
		t.Fatalf("first signature: %d, %s", code, stderr)
	}
	const note = "old signature was replaced"
	tests := []struct {
		name string
		args []string
		code int
		note bool
	}{
		{"-d", []string{"-d", "sha256", keyPath, certPath, m}, 0, false},
		{"-D", []string{"-D", "sha256", keyPath, certPath, m}, 0, false},
		{"unwritable destination", []string{"sha256", keyPath, certPath, m, filepath.Join(dir, "missing", "m.ko")}, 1, false},
		{"re-signed", []string{"sha256", keyPath, certPath, m}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := run(t, tt.args...)
			if code != tt.code || strings.Contains(stderr, note) != tt.note {
				t.Errorf("gokmodsign %q = %d, stderr %q; want %d, note %v", tt.args, code, stderr, tt.code, tt.note)
			}
		})
	}
}

// Keys, certificates, raw signatures and modules must be regular files:
// a device or a FIFO fails at once with one line, never blocks or grows.
func TestNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	m := write(t, filepath.Join(dir, "m.ko"), module)
	for _, args := range [][]string{
		{"sha256", "/dev/zero", certPath, m},
		{"sha256", fifo, certPath, m},
		{"sha256", keyPath, fifo, m},
		{"sha256", keyPath, certPath, fifo},
		{"-s", fifo, "sha256", certPath, m},
		{"verify", "--cert", fifo, m},
		{"verify", "--cert", certPath, fifo},
	} {
		done := make(chan struct{})
		var code int
		var stdout, stderr string
		go func() { code, stdout, stderr = run(t, args...); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("gokmodsign %q blocked", args)
		}
		out := stdout + stderr
		if code != 1 || !strings.Contains(out, "not a regular file") || strings.Count(out, "\n") != 1 {
			t.Errorf("gokmodsign %q = %d, %q; want 1 and one line saying it is not a regular file", args, code, out)
		}
	}
}
