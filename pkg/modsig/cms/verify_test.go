package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gokmod/gokmod/pkg/modsig"
)

func signedImage(t *testing.T, k *testKey, opts Options, content []byte) []byte {
	t.Helper()
	s, err := NewSigner(k.key, k.cert, opts)
	if err != nil {
		t.Fatalf("NewSigner() error: %v", err)
	}
	block, err := s.Sign(content)
	if err != nil {
		t.Fatalf("Sign() error: %v", err)
	}
	return append(bytes.Clone(content), block...)
}

func TestVerify(t *testing.T) {
	content := bytes.Repeat([]byte("module body "), 100)
	rsaKey := newTestKey(t, "rsa2048")
	ecKey := newTestKey(t, "ecdsa256")
	other := newTestKey(t, "rsa2048-other")
	good := signedImage(t, rsaKey, Options{Hash: crypto.SHA256}, content)
	goodSKID := signedImage(t, rsaKey, Options{Hash: crypto.SHA512, BySKID: true}, content)
	goodEC := signedImage(t, ecKey, Options{Hash: crypto.SHA384}, content)
	goodSHA3 := signedImage(t, rsaKey, Options{Hash: crypto.SHA3_256}, content)
	_, sig, _ := modsig.Split(good)
	valueAt := len(content) + len(sig.Raw) - len(sig.Value)
	flip := func(image []byte, at int) []byte {
		out := bytes.Clone(image)
		out[at] ^= 0x01
		return out
	}
	trailerAt := len(good) - len(modsig.Magic) - trailerLen
	tests := []struct {
		name  string
		image []byte
		certs []*x509.Certificate
		want  error
	}{
		{"rsa issuer+serial", good, []*x509.Certificate{other.cert, rsaKey.cert}, nil},
		{"rsa skid", goodSKID, []*x509.Certificate{rsaKey.cert}, nil},
		{"ecdsa", goodEC, []*x509.Certificate{ecKey.cert}, nil},
		{"sha3", goodSHA3, []*x509.Certificate{rsaKey.cert}, nil},
		{"byte flipped in body", flip(good, 10), []*x509.Certificate{rsaKey.cert}, ErrBadSignature},
		{"last body byte flipped", flip(good, len(content)-1), []*x509.Certificate{rsaKey.cert}, ErrBadSignature},
		{"byte flipped in signature", flip(good, valueAt+7), []*x509.Certificate{rsaKey.cert}, ErrBadSignature},
		{"byte flipped in ecdsa signature", flip(goodEC, len(goodEC)-len(modsig.Magic)-trailerLen-3), []*x509.Certificate{ecKey.cert}, ErrBadSignature},
		{"wrong certificate", good, []*x509.Certificate{other.cert}, ErrUnknownSigner},
		{"wrong certificate skid", goodSKID, []*x509.Certificate{other.cert}, ErrUnknownSigner},
		{"no certificate", good, nil, ErrUnknownSigner},
		{"unsigned", content, []*x509.Certificate{rsaKey.cert}, ErrNotSigned},
		{"trailer lies about its length", func() []byte {
			b := bytes.Clone(good)
			binary.BigEndian.PutUint32(b[trailerAt+8:], uint32(len(sig.Raw)+5))
			return b
		}(), []*x509.Certificate{rsaKey.cert}, modsig.ErrMalformed},
		{"non-zero hash byte", flip(good, trailerAt+1), []*x509.Certificate{rsaKey.cert}, ErrBadSignature},
		{"signature of another key with the same name", func() []byte {
			// A key that claims rsaKey's issuer and serial.
			s := &Signer{}
			*s = *mustSigner(t, rsaKey)
			s.key = other.key
			block, err := s.Sign(content)
			if err != nil {
				t.Fatal(err)
			}
			return append(bytes.Clone(content), block...)
		}(), []*x509.Certificate{rsaKey.cert}, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cert, err := Verify(tt.image, tt.certs)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify() error = %v, want %v", err, tt.want)
			}
			if err == nil && cert == nil {
				t.Errorf("Verify() returned no certificate for a good signature")
			}
		})
	}
}

func mustSigner(t *testing.T, k *testKey) *Signer {
	t.Helper()
	s, err := NewSigner(k.key, k.cert, Options{Hash: crypto.SHA256})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The fixtures signed by sign-file verify with their certificate only.
func TestVerifySignFileFixtures(t *testing.T) {
	image := readFile(t, "sha256.signed")
	if _, _, err := Verify(image, []*x509.Certificate{newTestKey(t, "rsa2048").cert}); !errors.Is(err, ErrUnknownSigner) {
		t.Errorf("Verify(sign-file fixture, other cert) = %v, want ErrUnknownSigner", err)
	}
	cert, err := ParseCertificate(readFile(t, "rsa2048.der"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sha256.signed", "skid.signed", "sha3-256.signed"} {
		if _, _, err := Verify(readFile(t, name), []*x509.Certificate{cert}); err != nil {
			t.Errorf("Verify(%s) = %v, want nil", name, err)
		}
	}
	// md5 is not a digest the kernel verifies.
	if _, _, err := Verify(readFile(t, "md5.signed"), []*x509.Certificate{cert}); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(md5.signed) = %v, want ErrBadSignature", err)
	}
}

func FuzzVerify(f *testing.F) {
	cert, err := ParseCertificate(readFile(f, "rsa2048.der"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range []string{"sha256.signed", "skid.signed", "sha3-256.signed", "md5.signed", "plain.bin"} {
		f.Add(readFile(f, name))
	}
	f.Fuzz(func(t *testing.T, image []byte) {
		sig, signer, err := Verify(image, []*x509.Certificate{cert})
		if err == nil && (sig == nil || signer != cert) {
			t.Fatalf("Verify succeeded without a signature and its certificate")
		}
		var re *modsig.RuleError
		if err != nil && !errors.As(err, &re) {
			t.Fatalf("Verify error %v names no kernel rule", err)
		}
		if err != nil && !errors.Is(err, ErrNotSigned) && !errors.Is(err, modsig.ErrMalformed) &&
			!errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("Verify error %v wraps none of the sentinels", err)
		}
	})
}
