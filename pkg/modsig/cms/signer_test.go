package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/gokmod/pkg/modsig"
)

const signFile = "/usr/lib/linux-kbuild-6.1/scripts/sign-file"

func needSignFile(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(signFile); err != nil {
		t.Skipf("golden comparison needs the kernel's sign-file (Debian package linux-kbuild-6.1): %v", err)
	}
}

// runSignFile signs content with scripts/sign-file and returns the signed
// image it wrote.
func runSignFile(t *testing.T, k *testKey, hash string, bySKID bool, content []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	keyPath, certPath := k.write(t, dir)
	mod := filepath.Join(dir, "m.ko")
	if err := os.WriteFile(mod, content, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{hash, keyPath, certPath, mod}
	if bySKID {
		args = append([]string{"-k"}, args...)
	}
	if out, err := exec.Command(signFile, args...).CombinedOutput(); err != nil {
		t.Fatalf("sign-file %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	signed, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

var signFileHashes = []string{"sha1", "sha224", "sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512"}

// RSA PKCS#1 v1.5 signatures are deterministic, so our output must be
// sign-file's byte for byte.
func TestSignGoldenRSA(t *testing.T) {
	needSignFile(t)
	content := []byte("\x7fELF\x02\x01\x01 pretend module contents\n")
	for _, kind := range []string{"rsa2048", "rsa4096"} {
		k := newTestKey(t, kind)
		for _, hash := range signFileHashes {
			for _, bySKID := range []bool{false, true} {
				name := kind + "/" + hash
				if bySKID {
					name += "/-k"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					want := runSignFile(t, k, hash, bySKID, content)
					h, err := modsig.HashByName(hash)
					if err != nil {
						t.Fatal(err)
					}
					s, err := NewSigner(k.key, k.cert, Options{Hash: h, BySKID: bySKID})
					if err != nil {
						t.Fatalf("NewSigner() error: %v", err)
					}
					block, err := s.Sign(content)
					if err != nil {
						t.Fatalf("Sign() error: %v", err)
					}
					got := append(bytes.Clone(content), block...)
					if !bytes.Equal(got, want) {
						t.Errorf("Sign() differs from sign-file:\n got %x\nwant %x", got[len(content):], want[len(content):])
					}
					if _, _, err := Verify(want, []*x509.Certificate{k.cert}); err != nil {
						t.Errorf("Verify(sign-file output) = %v, want nil", err)
					}
				})
			}
		}
	}
}

// ECDSA signatures are randomised: sign-file's and ours must both verify,
// with our verifier and with openssl cms.
func TestSignECDSA(t *testing.T) {
	needSignFile(t)
	content := []byte("\x7fELF\x02\x01\x01 pretend module contents\n")
	for _, kind := range []string{"ecdsa256", "ecdsa384"} {
		k := newTestKey(t, kind)
		for _, hash := range []string{"sha256", "sha384", "sha512"} {
			for _, bySKID := range []bool{false, true} {
				name := kind + "/" + hash
				if bySKID {
					name += "/-k"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					theirs := runSignFile(t, k, hash, bySKID, content)
					h, _ := modsig.HashByName(hash)
					s, err := NewSigner(k.key, k.cert, Options{Hash: h, BySKID: bySKID})
					if err != nil {
						t.Fatalf("NewSigner() error: %v", err)
					}
					block, err := s.Sign(content)
					if err != nil {
						t.Fatalf("Sign() error: %v", err)
					}
					ours := append(bytes.Clone(content), block...)
					for who, image := range map[string][]byte{"sign-file": theirs, "ours": ours} {
						if _, _, err := Verify(image, []*x509.Certificate{k.cert}); err != nil {
							t.Errorf("Verify(%s) = %v, want nil", who, err)
						}
						opensslVerify(t, k, image)
					}
					// Everything but the signature value is deterministic.
					_, sigTheirs, _ := modsig.Split(theirs)
					_, sigOurs, _ := modsig.Split(ours)
					if sigTheirs.Signer != sigOurs.Signer || !bytes.Equal(sigTheirs.KeyID, sigOurs.KeyID) || sigTheirs.HashAlgo != sigOurs.HashAlgo || sigTheirs.KeyAlgo != sigOurs.KeyAlgo {
						t.Errorf("modsig.Split(ours) = %+v, sign-file's %+v", sigOurs, sigTheirs)
					}
					strip := func(raw, value []byte) []byte { return bytes.Replace(raw, value, nil, 1) }
					rawT, rawO := strip(sigTheirs.Raw, sigTheirs.Value), strip(sigOurs.Raw, sigOurs.Value)
					if len(sigTheirs.Raw)-len(sigTheirs.Value) != len(sigOurs.Raw)-len(sigOurs.Value) {
						t.Errorf("PKCS#7 framing differs from sign-file's: %x vs %x", rawO, rawT)
					}
				})
			}
		}
	}
}

// opensslVerify checks a signed image with openssl cms -verify, as a
// second, independent verifier; it skips when openssl is not installed.
func opensslVerify(t *testing.T, k *testKey, image []byte) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Logf("openssl not installed: %v", err)
		return
	}
	content, sig, err := modsig.Split(image)
	if err != nil || sig == nil {
		t.Fatalf("modsig.Split() = %v, %v", sig, err)
	}
	dir := t.TempDir()
	_, certPath := k.write(t, dir)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p7 := write("sig.p7s", sig.Raw)
	data := write("content", content)
	cmd := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", p7, "-content", data,
		"-certfile", certPath, "-nointern", "-noverify", "-out", os.DevNull)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("openssl cms -verify: %v\n%s", err, out)
	}
	// And a tampered content must fail there too.
	bad := bytes.Clone(content)
	bad[0] ^= 1
	write("content", bad)
	if out, err := exec.Command(openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", p7, "-content", data,
		"-certfile", certPath, "-nointern", "-noverify", "-out", os.DevNull).CombinedOutput(); err == nil {
		t.Errorf("openssl cms -verify accepted tampered content:\n%s", out)
	}
}

func TestNewSignerErrors(t *testing.T) {
	rsaKey := newTestKey(t, "rsa2048")
	other := newTestKey(t, "rsa2048-other")
	ecKey := newTestKey(t, "ecdsa256")
	noSKID := *rsaKey.cert
	noSKID.SubjectKeyId = nil
	tests := []struct {
		name string
		key  crypto.Signer
		cert *x509.Certificate
		opts Options
		want error
	}{
		{"key of another certificate", other.key, rsaKey.cert, Options{Hash: crypto.SHA256}, ErrKeyMismatch},
		{"rsa key, ecdsa certificate", rsaKey.key, ecKey.cert, Options{Hash: crypto.SHA256}, ErrKeyMismatch},
		{"md5", rsaKey.key, rsaKey.cert, Options{Hash: crypto.MD5}, modsig.ErrUnknownHash},
		{"no hash", rsaKey.key, rsaKey.cert, Options{}, modsig.ErrUnknownHash},
		{"-k without subject key id", rsaKey.key, &noSKID, Options{Hash: crypto.SHA256, BySKID: true}, ErrNoSKID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewSigner(tt.key, tt.cert, tt.opts); !errors.Is(err, tt.want) {
				t.Errorf("NewSigner() error = %v, want %v", err, tt.want)
			}
		})
	}
}
