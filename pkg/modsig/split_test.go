package modsig

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fixtures were signed by the kernel's scripts/sign-file with
// testdata/rsa2048.pem, whose certificate has serial 0x8f0102030405060708
// (DER 00 8f ...) and subject key id f90325f6....
func TestSplitSignFile(t *testing.T) {
	plain := readFile(t, "plain.bin")
	serial := mustHex(t, "8f0102030405060708")
	skid := mustHex(t, "f90325f6e13a63eb2f421a8a494aa083cee768ff")
	tests := []struct {
		file      string
		want      Signature
		kmodShows bool
	}{
		{"sha256.signed", Signature{IDType: PKCS7, Signer: "gokmod test key", KeyID: serial, HashAlgo: "sha256", KeyAlgo: "rsa"}, true},
		{"md5.signed", Signature{IDType: PKCS7, Signer: "gokmod test key", KeyID: serial, HashAlgo: "md5", KeyAlgo: "rsa"}, true},
		{"sha3-256.signed", Signature{IDType: PKCS7, Signer: "gokmod test key", KeyID: serial, HashAlgo: "sha3-256", KeyAlgo: "rsa"}, false},
		{"skid.signed", Signature{IDType: PKCS7, KeyID: skid, HashAlgo: "sha256", KeyAlgo: "rsa", BySKID: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			image := readFile(t, tt.file)
			content, sig, err := Split(image)
			if err != nil {
				t.Fatalf("Split(%s) error: %v", tt.file, err)
			}
			if !bytes.Equal(content, plain) {
				t.Errorf("Split(%s) content = %q, want %q", tt.file, content, plain)
			}
			if len(sig.Value) != 256 {
				t.Errorf("Split(%s) signature is %d bytes, want 256 (RSA-2048)", tt.file, len(sig.Value))
			}
			sigLen := binary.BigEndian.Uint32(image[len(image)-len(Magic)-4:])
			if want := image[len(plain) : len(plain)+int(sigLen)]; !bytes.Equal(sig.Raw, want) {
				t.Errorf("Split(%s) Raw is not the appended blob", tt.file)
			}
			if !bytes.HasSuffix(sig.Raw, sig.Value) {
				t.Errorf("Split(%s) Value is not the end of the PKCS#7 blob", tt.file)
			}
			if !sig.BareTrailer() {
				t.Errorf("Split(%s).BareTrailer() = false, want true (sign-file sets only id_type and sig_len)", tt.file)
			}
			got := *sig
			got.Value, got.Raw, got.signer, got.bareTrailer = nil, nil, nil, false
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(Signature{})); diff != "" {
				t.Errorf("Split(%s) signature mismatch (-want +got):\n%s", tt.file, diff)
			}
			if got := sig.KmodShows(); got != tt.kmodShows {
				t.Errorf("Split(%s).KmodShows() = %v, want %v", tt.file, got, tt.kmodShows)
			}
		})
	}
}

// legacy builds an old-style (PGP or X509 id type) signed image.
func legacy(content []byte, algo, hash uint8, id IDType, signer, keyID, sig string) []byte {
	var b bytes.Buffer
	b.Write(content)
	b.WriteString(signer)
	b.WriteString(keyID)
	b.WriteString(sig)
	b.Write([]byte{algo, hash, byte(id), byte(len(signer)), byte(len(keyID)), 0, 0, 0})
	binary.Write(&b, binary.BigEndian, uint32(len(sig)))
	b.WriteString(Magic)
	return b.Bytes()
}

func TestSplitLegacy(t *testing.T) {
	content := []byte("\x7fELF module")
	image := legacy(content, 1, 4, X509, "Magrathea: Glacier signing key", "\x01\x02\x03", "SIGNATURE")
	gotContent, sig, err := Split(image)
	if err != nil {
		t.Fatalf("Split(legacy) error: %v", err)
	}
	if !bytes.Equal(gotContent, content) {
		t.Errorf("Split(legacy) content = %q, want %q", gotContent, content)
	}
	want := &Signature{
		IDType:   X509,
		Signer:   "Magrathea: Glacier signing key",
		KeyID:    []byte{1, 2, 3},
		HashAlgo: "sha256",
		KeyAlgo:  "rsa",
		Value:    []byte("SIGNATURE"),
		Raw:      []byte("Magrathea: Glacier signing key\x01\x02\x03SIGNATURE"),
	}
	if diff := cmp.Diff(want, sig, cmp.AllowUnexported(Signature{})); diff != "" {
		t.Errorf("Split(legacy) mismatch (-want +got):\n%s", diff)
	}
	if !sig.KmodShows() {
		t.Errorf("Split(legacy).KmodShows() = false, want true")
	}
}

func TestSplitUnsigned(t *testing.T) {
	for _, image := range [][]byte{nil, []byte("x"), readFile(t, "plain.bin"), []byte(Magic[1:])} {
		content, sig, err := Split(image)
		if err != nil || sig != nil || !bytes.Equal(content, image) {
			t.Errorf("Split(%q) = %q, %v, %v, want the image, nil, nil", image, content, sig, err)
		}
	}
}

func TestSplitMalformed(t *testing.T) {
	good := readFile(t, "sha256.signed")
	trailerAt := len(good) - len(Magic) - trailerLen
	patch := func(off int, b ...byte) []byte {
		out := bytes.Clone(good)
		copy(out[trailerAt+off:], b)
		return out
	}
	tests := []struct {
		name  string
		image []byte
	}{
		{"magic only", []byte(Magic)},
		{"short trailer", []byte("12345" + Magic)},
		{"unknown key algo", patch(0, 2)},
		{"unknown hash", patch(1, 9)},
		{"unknown id type", patch(2, 3)},
		{"zero length", patch(8, 0, 0, 0, 0)},
		{"length past start", patch(8, 0, 0, 0x10, 0)},
		{"length too short", patch(8, 0, 0, 0, 100)},
		{"length too long", patch(8, 0, 0, 1, 0xc7)},
		{"signer_len past start", patch(3, 0xff)},
		{"not pkcs#7", legacy(nil, 0, 0, PKCS7, "", "", "\x30\x03\x02\x01\x01")},
		{"garbage blob", legacy([]byte("abc"), 0, 0, PKCS7, "", "", "garbage")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content, sig, err := Split(tt.image)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Split() error = %v, want ErrMalformed", err)
			}
			if sig != nil || !bytes.Equal(content, tt.image) {
				t.Errorf("Split() = %d bytes, %v, want the whole image and nil", len(content), sig)
			}
		})
	}
}

// Every module Debian ships is signed by its build key with sha256.
func TestSplitDebianModules(t *testing.T) {
	paths, _ := filepath.Glob("/lib/modules/*/kernel/net/*/*.ko")
	if len(paths) == 0 {
		t.Skip("no Debian modules under /lib/modules")
	}
	if len(paths) > 50 {
		paths = paths[:50]
	}
	for _, p := range paths {
		image, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		_, sig, err := Split(image)
		if err != nil || sig == nil {
			t.Fatalf("Split(%s) = %v, %v, want a signature", p, sig, err)
		}
		if sig.Signer != "Build time autogenerated kernel key" || sig.HashAlgo != "sha256" || sig.IDType != PKCS7 || len(sig.KeyID) == 0 || !sig.KmodShows() {
			t.Errorf("Split(%s) = signer %q hash %q id %v key %x", p, sig.Signer, sig.HashAlgo, sig.IDType, sig.KeyID)
		}
	}
}

func FuzzSplit(f *testing.F) {
	for _, name := range []string{"sha256.signed", "skid.signed", "sha3-256.signed", "md5.signed"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(legacy([]byte("x"), 1, 4, PGP, "signer", "kid", "sig"))
	f.Fuzz(func(t *testing.T, image []byte) {
		content, sig, err := Split(image)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("Split error %v does not wrap ErrMalformed", err)
		}
		if sig == nil && !bytes.Equal(content, image) {
			t.Fatalf("Split without a signature changed the content")
		}
		if sig != nil && !bytes.HasPrefix(image, content) {
			t.Fatalf("Split content is not a prefix of the image")
		}
	})
}

func FuzzParsePKCS7(f *testing.F) {
	for _, name := range []string{"sha256.signed", "skid.signed"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		n := binary.BigEndian.Uint32(b[len(b)-len(Magic)-4:])
		f.Add(b[len(b)-len(Magic)-trailerLen-int(n) : len(b)-len(Magic)-trailerLen])
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		sig, err := parsePKCS7(blob)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("parsePKCS7 error %v does not wrap ErrMalformed", err)
		}
		if err == nil && (sig.signer == nil || sig.IDType != PKCS7) {
			t.Fatalf("parsePKCS7 returned an incomplete signature")
		}
	})
}
