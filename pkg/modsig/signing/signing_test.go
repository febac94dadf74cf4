package signing

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
)

// testSigner uses the key and certificate checked in for package modsig.
func testSigner(t *testing.T) (*cms.Signer, *x509.Certificate) {
	t.Helper()
	keyPEM, err := os.ReadFile("../testdata/rsa2048.pem")
	if err != nil {
		t.Fatal(err)
	}
	certDER, err := os.ReadFile("../testdata/rsa2048.der")
	if err != nil {
		t.Fatal(err)
	}
	key, err := cms.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := cms.ParseCertificate(certDER)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cms.NewSigner(key, cert, cms.Options{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	return s, cert
}

func writeModule(t *testing.T, dir, name string, data []byte, mode fs.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// dirNames lists a directory, to prove that no temporary file is left.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func verify(t *testing.T, path string, cert *x509.Certificate) []byte {
	t.Helper()
	image, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := cms.Verify(image, []*x509.Certificate{cert}); err != nil {
		t.Errorf("Verify(%s) = %v, want nil", path, err)
	}
	content, _, _ := modsig.Split(image)
	return content
}

func TestFile(t *testing.T) {
	s, cert := testSigner(t)
	module := modfiletest.Module("license=GPL\x00name=fake\x00")
	wantP7, err := s.PKCS7(module)
	if err != nil {
		t.Fatal(err)
	}
	signed := append(bytes.Clone(module), modsig.Block(wantP7)...)

	t.Run("in place keeps the mode", func(t *testing.T) {
		dir := t.TempDir()
		p := writeModule(t, dir, "m.ko", module, 0o600)
		res, err := File(p, Options{Signer: s})
		if err != nil {
			t.Fatalf("File() error: %v", err)
		}
		if res.Replaced || !cmp.Equal(res.Wrote, []string{p}) {
			t.Errorf("File() = %+v, want one file written, nothing replaced", res)
		}
		got, _ := os.ReadFile(p)
		if !bytes.Equal(got, signed) {
			t.Errorf("File() wrote %d bytes, want the %d-byte signed module", len(got), len(signed))
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
			t.Errorf("File() changed the mode to %v, want 0600", fi.Mode().Perm())
		}
		if diff := cmp.Diff([]string{"m.ko"}, dirNames(t, dir)); diff != "" {
			t.Errorf("directory after File() (-want +got):\n%s", diff)
		}
	})
	t.Run("to a destination", func(t *testing.T) {
		dir := t.TempDir()
		p := writeModule(t, dir, "m.ko", module, 0o644)
		dst := filepath.Join(dir, "out.ko")
		if _, err := File(p, Options{Signer: s, Dest: dst}); err != nil {
			t.Fatalf("File() error: %v", err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, module) {
			t.Errorf("File() with a destination changed the module")
		}
		verify(t, dst, cert)
	})
	t.Run("replaces an old signature", func(t *testing.T) {
		dir := t.TempDir()
		p := writeModule(t, dir, "m.ko", append(bytes.Clone(module), []byte("old signature bytes")...), 0o644)
		// Sign twice: the first adds a signature over the module with
		// junk; the second must replace it, not stack on it.
		if _, err := File(p, Options{Signer: s}); err != nil {
			t.Fatal(err)
		}
		res, err := File(p, Options{Signer: s})
		if err != nil || !res.Replaced {
			t.Fatalf("File() = %+v, %v, want Replaced", res, err)
		}
		content := verify(t, p, cert)
		if _, sig, _ := modsig.Split(content); sig != nil {
			t.Errorf("File() left the old signature in the content")
		}
	})
	t.Run("append keeps the old signature", func(t *testing.T) {
		dir := t.TempDir()
		p := writeModule(t, dir, "m.ko", signed, 0o644)
		res, err := File(p, Options{Signer: s, Append: true})
		if err != nil || res.Replaced {
			t.Fatalf("File(Append) = %+v, %v, want no replacement", res, err)
		}
		content := verify(t, p, cert)
		if !bytes.Equal(content, signed) {
			t.Errorf("File(Append) signed %d bytes, want the %d-byte signed module", len(content), len(signed))
		}
	})
	t.Run("pkcs7 only", func(t *testing.T) {
		dir := t.TempDir()
		p := writeModule(t, dir, "m.ko", module, 0o644)
		res, err := File(p, Options{Signer: s, Output: PKCS7Only})
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(res.Wrote, []string{p + ".p7s"}) {
			t.Errorf("File(PKCS7Only) wrote %v", res.Wrote)
		}
		if got, _ := os.ReadFile(p + ".p7s"); !bytes.Equal(got, wantP7) {
			t.Errorf("File(PKCS7Only) .p7s differs from Signer.PKCS7")
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, module) {
			t.Errorf("File(PKCS7Only) changed the module")
		}
	})
	t.Run("signed and pkcs7", func(t *testing.T) {
		dir := t.TempDir()
		p := writeModule(t, dir, "m.ko", module, 0o644)
		if _, err := File(p, Options{Signer: s, Output: SignedAndPKCS7}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p + ".p7s"); !bytes.Equal(got, wantP7) {
			t.Errorf("File(SignedAndPKCS7) .p7s differs from Signer.PKCS7")
		}
		verify(t, p, cert)
	})
	t.Run("detached block", func(t *testing.T) {
		dir := t.TempDir()
		p := writeModule(t, dir, "m.ko", module, 0o644)
		if _, err := File(p, Options{Signer: s, Output: Detached}); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(p + ".sig")
		if !bytes.Equal(append(bytes.Clone(module), got...), signed) {
			t.Errorf("File(Detached) block + module is not the signed module")
		}
	})
	t.Run("raw signature", func(t *testing.T) {
		dir := t.TempDir()
		p := writeModule(t, dir, "m.ko", module, 0o644)
		if _, err := File(p, Options{RawSig: wantP7, Cert: cert}); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, signed) {
			t.Errorf("File(RawSig) differs from signing with the key")
		}
	})
}

// TestFileBadInputs: each error leaves the module as it was and no
// temporary file in its directory.
func TestFileBadInputs(t *testing.T) {
	s, cert := testSigner(t)
	module := modfiletest.Module("license=GPL\x00")
	otherP7, _ := s.PKCS7([]byte("other content"))
	block, _ := s.Sign(module)
	lying := append(bytes.Clone(module), block...)
	lying[len(lying)-len(modsig.Magic)-2] ^= 0x40 // sig_len now exceeds the file
	tests := []struct {
		name   string
		data   []byte
		opts   Options
		want   error
		target string // a file name relative to the temp dir
	}{
		{"not elf", []byte("#!/bin/sh\necho not a module\n"), Options{Signer: s}, modfile.ErrNotELF, ""},
		{"truncated", module[:len(module)-40], Options{Signer: s}, modfile.ErrTruncated, ""},
		{"no .modinfo", noModinfo(), Options{Signer: s}, modfile.ErrNotModule, ""},
		{"compressed", append([]byte{0x28, 0xb5, 0x2f, 0xfd}, module...), Options{Signer: s}, ErrCompressed, ""},
		{"trailer lies about its length", lying, Options{Signer: s}, modsig.ErrMalformed, ""},
		{"raw signature over other content", module, Options{RawSig: otherP7, Cert: cert}, cms.ErrBadSignature, ""},
		{"raw signature not pkcs#7", module, Options{RawSig: []byte("junk"), Cert: cert}, modsig.ErrMalformed, ""},
		{"destination directory missing", module, Options{Signer: s}, fs.ErrNotExist, "missing/out.ko"},
		{"destination is a directory", module, Options{Signer: s}, nil, "."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := tt.data
			p := writeModule(t, dir, "m.ko", data, 0o644)
			opts := tt.opts
			if tt.target != "" {
				opts.Dest = filepath.Join(dir, tt.target)
			}
			_, err := File(p, opts)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("File() error = %v, want %v", err, tt.want)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
				t.Errorf("File() changed the module on error")
			}
			if diff := cmp.Diff([]string{"m.ko"}, dirNames(t, dir)); diff != "" {
				t.Errorf("directory after File() error (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("missing module", func(t *testing.T) {
		if _, err := File(filepath.Join(t.TempDir(), "none.ko"), Options{Signer: s}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("File(missing) error = %v, want ErrNotExist", err)
		}
	})
}

// noModinfo is a valid ELF object without a .modinfo section.
func noModinfo() []byte {
	b := modfiletest.Module("x=y\x00")
	i := bytes.Index(b, []byte(".modinfo"))
	copy(b[i:], ".nomodin")
	return b
}

// failingFile fails its Write after limit bytes, or its Sync.
type failingFile struct {
	tempFile
	limit    int
	failSync bool
}

func (f *failingFile) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n, _ := f.tempFile.Write(p[:f.limit])
		f.limit = 0
		return n, errors.New("no space left on device (simulated)")
	}
	f.limit -= len(p)
	return f.tempFile.Write(p)
}

func (f *failingFile) Sync() error {
	if f.failSync {
		return errors.New("input/output error (simulated)")
	}
	return f.tempFile.Sync()
}

// TestFileInterruptedWrite: a write that fails half way, or an fsync that
// fails, leaves the old module in place and no temporary file.
func TestFileInterruptedWrite(t *testing.T) {
	s, _ := testSigner(t)
	module := modfiletest.Module("license=GPL\x00name=fake\x00")
	for _, tt := range []failingFile{{limit: 100}, {limit: len(module) + 10}, {limit: 1 << 30, failSync: true}} {
		t.Run(fmt.Sprintf("limit %d sync %v", tt.limit, tt.failSync), func(t *testing.T) {
			saved := createTemp
			t.Cleanup(func() { createTemp = saved })
			createTemp = func(dir, tmp string, mode fs.FileMode) (tempFile, error) {
				f, err := saved(dir, tmp, mode)
				if err != nil {
					return nil, err
				}
				ff := tt
				ff.tempFile = f
				return &ff, nil
			}
			dir := t.TempDir()
			p := writeModule(t, dir, "m.ko", module, 0o644)
			_, err := File(p, Options{Signer: s})
			if err == nil || !strings.Contains(err.Error(), "simulated") {
				t.Fatalf("File() error = %v, want the simulated failure", err)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, module) {
				t.Errorf("File() changed the module")
			}
			if diff := cmp.Diff([]string{"m.ko"}, dirNames(t, dir)); diff != "" {
				t.Errorf("directory after the failed write (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTree(t *testing.T) {
	s, cert := testSigner(t)
	dir := t.TempDir()
	module := modfiletest.Module("license=GPL\x00")
	var want []string
	for i := range 20 {
		want = append(want, writeModule(t, dir, fmt.Sprintf("kernel/d%d/m%02d.ko", i%3, i), module, 0o644))
	}
	bad := writeModule(t, dir, "kernel/bad.ko", []byte("not elf"), 0o644)
	want = append(want, bad)
	writeModule(t, dir, "kernel/modules.dep", []byte("not a module"), 0o644)
	xz := writeModule(t, dir, "kernel/x.ko.xz", []byte("compressed, skipped"), 0o644)

	mods, compressed, err := Modules([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{xz}, compressed); diff != "" {
		t.Errorf("Modules() compressed (-want +got):\n%s", diff)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, mods); diff != "" {
		t.Errorf("Modules() (-want +got):\n%s", diff)
	}
	var calls atomic.Int64
	results := Tree(mods, Options{Signer: s}, 4, func(int) { calls.Add(1) })
	if calls := calls.Load(); calls != int64(len(mods)) {
		t.Errorf("progress called %d times, want %d", calls, len(mods))
	}
	if n := Failed(results); n != 1 {
		t.Errorf("Failed() = %d, want 1 (bad.ko)", n)
	}
	for _, r := range results {
		if r.Path == bad {
			if !errors.Is(r.Err, ErrNotModule) {
				t.Errorf("Tree: %s error = %v, want ErrNotModule", r.Path, r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Errorf("Tree: %s: %v", r.Path, r.Err)
			continue
		}
		verify(t, r.Path, cert)
	}
}
