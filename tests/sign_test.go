package tests

// Module signatures on a kernel that enforces them (the secure flavour:
// module.sig_enforce=1, trusting GOKMOD_KEYS' test certificates): kaidock
// signed by pkg/modsig and by gokmodsign loads; unsigned, tampered and
// untrusted copies are rejected with EKEYREJECTED.

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
)

// secureBed skips unless the kernel enforces signatures and trusts the
// test keys.
func secureBed(t *testing.T) *bed {
	t.Helper()
	b := newBed(t)
	if b.flavour != "secure" || !b.enforcing() {
		t.Skipf("needs the secure flavour with module.sig_enforce=1 (flavour %q, enforcing %v)", b.flavour, b.enforcing())
	}
	if b.keys == "" {
		t.Skip("GOKMOD_KEYS is not set")
	}
	return b
}

// finit loads the module file at path with finit_module and returns the
// kernel's answer.
func finit(t *testing.T, path string) error {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return kernel.FinitModule(int(f.Fd()), "", 0)
}

// unload removes kaidock after a successful load.
func unload(t *testing.T, name string) {
	t.Helper()
	if err := kernel.DeleteModule(name, 0); err != nil {
		t.Fatalf("DeleteModule(%s) = %v", name, err)
	}
}

// gokmodsign runs our binary and fails the test unless it succeeds.
func (b *bed) gokmodsign(args ...string) {
	b.t.Helper()
	if b.bin == "" {
		b.t.Skip("GOKMOD_BIN is not set")
	}
	r := b.run(filepath.Join(b.bin, "gokmodsign"), args...)
	if r.code != 0 {
		b.t.Fatalf("gokmodsign %s = %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
}

func (b *bed) key(name string) (priv, der string) {
	return filepath.Join(b.keys, name+".priv"), filepath.Join(b.keys, name+".der")
}

func TestSignedKaidockLoads(t *testing.T) {
	b := secureBed(t)
	b.cleanup("kaidock")
	raw := b.rawModule("kaidock")
	tests := []struct {
		name string
		make func(dst string)
	}{
		{"library rsa2048 sha256", func(dst string) { b.signBytes(raw, "rsa2048", dst) }},
		{"gokmodsign rsa2048 sha256", func(dst string) {
			priv, der := b.key("rsa2048")
			b.gokmodsign("sha256", priv, der, filepath.Join(b.mods, "kaidock.ko"), dst)
		}},
		{"gokmodsign rsa4096 sha512", func(dst string) {
			priv, der := b.key("rsa4096")
			b.gokmodsign("sha512", priv, der, filepath.Join(b.mods, "kaidock.ko"), dst)
		}},
		{"gokmodsign ecdsa256 sha256", func(dst string) {
			priv, der := b.key("ecdsa256")
			b.gokmodsign("sha256", priv, der, filepath.Join(b.mods, "kaidock.ko"), dst)
		}},
		{"gokmodsign -k rsa2048 sha384", func(dst string) {
			priv, der := b.key("rsa2048")
			b.gokmodsign("-k", "sha384", priv, der, filepath.Join(b.mods, "kaidock.ko"), dst)
		}},
		{"gokmodsign re-signs a signed copy in place", func(dst string) {
			b.signBytes(raw, "untrusted", dst)
			priv, der := b.key("rsa2048")
			b.gokmodsign("sha256", priv, der, dst)
		}},
		{"gokmodsign tree", func(dst string) {
			dir := filepath.Join(filepath.Dir(dst), "tree", "sub")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			in := filepath.Join(dir, "kaidock.ko")
			if err := os.WriteFile(in, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			priv, der := b.key("ecdsa256")
			b.gokmodsign("sha384", priv, der, filepath.Dir(dir))
			if err := os.Rename(in, dst); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(b.tmp, "signed", string(rune('a'+i)), "kaidock.ko")
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			tt.make(dst)
			if err := finit(t, dst); err != nil {
				t.Fatalf("finit_module(%s) = %v, want success", tt.name, err)
			}
			if !loaded("kaidock") {
				t.Errorf("kaidock is not in /sys/module after a successful load")
			}
			unload(t, "kaidock")
		})
	}
}

func TestBadSignaturesRejected(t *testing.T) {
	b := secureBed(t)
	b.cleanup("kaidock")
	raw := b.rawModule("kaidock")
	good := b.signBytes(raw, "rsa2048", filepath.Join(b.tmp, "good.ko"))
	signed, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	_, sig, err := modsig.Split(signed)
	if err != nil || sig == nil {
		t.Fatalf("Split(signed kaidock) = %v, %v", sig, err)
	}
	flip := func(at int) []byte {
		out := bytes.Clone(signed)
		out[at] ^= 0x01
		return out
	}
	sigAt := bytes.LastIndex(signed, sig.Value)
	tests := []struct {
		name string
		data []byte
	}{
		{"unsigned", raw},
		{"byte flipped in the body", flip(len(raw) / 2)},
		{"byte flipped in the signature", flip(sigAt + len(sig.Value)/2)},
		{"signed by an untrusted key", mustRead(t, b.signBytes(raw, "untrusted", filepath.Join(b.tmp, "untrusted.ko")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := b.write("bad.ko", tt.data)
			err := finit(t, p)
			if err == nil {
				unload(t, "kaidock")
				t.Fatalf("finit_module(%s) succeeded, want EKEYREJECTED", tt.name)
			}
			if !errors.Is(err, syscall.EKEYREJECTED) {
				t.Errorf("finit_module(%s) = %v, want EKEYREJECTED", tt.name, err)
			}
		})
	}
	// Our verifier agrees with the kernel on every case.
	var certs []*x509.Certificate
	for _, k := range []string{"rsa2048", "rsa4096", "ecdsa256"} {
		_, der := b.key(k)
		c, err := cms.ParseCertificate(mustRead(t, der))
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if _, _, err := cms.Verify(signed, certs); err != nil {
		t.Errorf("Verify(good) = %v", err)
	}
	for _, tt := range tests {
		if _, _, err := cms.Verify(tt.data, certs); err == nil {
			t.Errorf("Verify(%s) = nil, want an error", tt.name)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
