package modsig

import (
	"crypto"
	"errors"
	"math/big"
	"testing"
)

func TestHashByName(t *testing.T) {
	for _, name := range []string{"md5", "sha3-224", "sha257", ""} {
		if _, err := HashByName(name); !errors.Is(err, ErrUnknownHash) {
			t.Errorf("HashByName(%q) error = %v, want ErrUnknownHash", name, err)
		}
	}
	for name, want := range map[string]crypto.Hash{"sha256": crypto.SHA256, "SHA512": crypto.SHA512, "sha3-384": crypto.SHA3_384, "sha1": crypto.SHA1} {
		if got, err := HashByName(name); got != want || err != nil {
			t.Errorf("HashByName(%q) = %v, %v, want %v", name, got, err, want)
		}
	}
}

// TestSignedDataRoundTrip builds a SignedData for each identity and
// algorithm and checks that Split reads back what was put in.
func TestSignedDataRoundTrip(t *testing.T) {
	issuer := readFile(t, "sha256.signed") // any DER Name will do; take one from a fixture
	_, fixture, err := Split(issuer)
	if err != nil || fixture == nil {
		t.Fatalf("Split(sha256.signed) = %v, %v", fixture, err)
	}
	fsi, _ := fixture.SignerInfo()
	value := []byte("signature value")
	tests := []struct {
		name    string
		hash    crypto.Hash
		keyAlgo string
		id      SignerID
	}{
		{"rsa issuer+serial", crypto.SHA256, "rsa", SignerID{RawIssuer: fsi.ID.RawIssuer, Serial: big.NewInt(0x1234)}},
		{"ecdsa skid", crypto.SHA384, "ecdsa", SignerID{SKID: []byte{1, 2, 3, 4}}},
		{"rsa sha3", crypto.SHA3_512, "rsa", SignerID{SKID: []byte{5, 6}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p7, err := SignedData(tt.hash, tt.keyAlgo, tt.id, value)
			if err != nil {
				t.Fatalf("SignedData() error: %v", err)
			}
			_, sig, err := Split(append([]byte("content"), Block(p7)...))
			if err != nil || sig == nil {
				t.Fatalf("Split(Block(SignedData())) = %v, %v", sig, err)
			}
			si, ok := sig.SignerInfo()
			if !ok || si.Hash != tt.hash || si.SignedAttrs || !sig.BareTrailer() {
				t.Errorf("SignerInfo() = %+v, %v, BareTrailer() = %v, want hash %v, no signed attributes, bare trailer", si, ok, sig.BareTrailer(), tt.hash)
			}
			if sig.KeyAlgo != tt.keyAlgo || string(sig.Value) != string(value) {
				t.Errorf("Split: KeyAlgo %q, Value %q, want %q, %q", sig.KeyAlgo, sig.Value, tt.keyAlgo, value)
			}
			if tt.id.SKID != nil {
				if !sig.BySKID || string(si.ID.SKID) != string(tt.id.SKID) {
					t.Errorf("Split: BySKID %v, SKID %x, want %x", sig.BySKID, si.ID.SKID, tt.id.SKID)
				}
			} else if si.ID.Serial.Cmp(tt.id.Serial) != 0 || sig.Signer != fixture.Signer {
				t.Errorf("Split: serial %v, signer %q, want %v, %q", si.ID.Serial, sig.Signer, tt.id.Serial, fixture.Signer)
			}
		})
	}
}

func TestSignedDataErrors(t *testing.T) {
	id := SignerID{SKID: []byte{1}}
	tests := []struct {
		name    string
		hash    crypto.Hash
		keyAlgo string
		want    error
	}{
		{"md5", crypto.MD5, "rsa", ErrUnknownHash},
		{"no hash", 0, "rsa", ErrUnknownHash},
		{"ed25519", crypto.SHA256, "ed25519", ErrUnknownKeyAlgo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := SignedData(tt.hash, tt.keyAlgo, id, nil); !errors.Is(err, tt.want) {
				t.Errorf("SignedData(%v, %q) error = %v, want %v", tt.hash, tt.keyAlgo, err, tt.want)
			}
		})
	}
}
