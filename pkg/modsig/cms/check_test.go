package cms

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/modsigtest"
)

func corpusKeys(t *testing.T) (modsigtest.Keys, []*x509.Certificate) {
	key := func(kind string) modsigtest.Key {
		k := newTestKey(t, kind)
		return modsigtest.Key{Key: k.key, Cert: k.cert}
	}
	keys := modsigtest.Keys{
		RSA2048:   key("rsa2048"),
		RSA4096:   key("rsa4096"),
		ECDSA256:  key("ecdsa256"),
		Untrusted: key("rsa2048-untrusted"),
	}
	return keys, []*x509.Certificate{keys.RSA2048.Cert, keys.RSA4096.Cert, keys.ECDSA256.Cert}
}

// noSHA1 is the secure flavour's crypto: every hash but SHA-1.
func noSHA1(name string) Availability {
	if name == "sha1" {
		return Unavailable
	}
	return Available
}

// TestCheckCorpus: every crafted signature gets the verdict, the errno
// class and a rule of the kernel (what the secure flavour answered, per
// VM-NOTES.md); tests/verify_kernel_test.go asks a kernel the same.
func TestCheckCorpus(t *testing.T) {
	keys, trusted := corpusKeys(t)
	content := bytes.Repeat([]byte("\x7fELF module body "), 200)
	for _, c := range modsigtest.Corpus(keys) {
		t.Run(c.Name, func(t *testing.T) {
			image, err := c.Sign(content)
			if err != nil {
				t.Fatal(err)
			}
			res := Check(image, trusted, Rules{Release: modsig.KernelRelease{Major: 6, Minor: 12}, Digest: noSHA1})
			if got := res.Class.Enforced(); got != c.Want {
				t.Fatalf("Check(%s) = %v (%v), want %v", c.Name, got, res.Err, c.Want)
			}
			if c.Want == modsig.Accepted {
				if res.Err != nil || res.Cert == nil {
					t.Errorf("Check(%s) = %v, cert %v; want success with a certificate", c.Name, res.Err, res.Cert)
				}
				return
			}
			var re *modsig.RuleError
			if !errors.As(res.Err, &re) || re.Rule == "" {
				t.Errorf("Check(%s) error %v names no rule", c.Name, res.Err)
			}
			if !strings.Contains(res.Err.Error(), re.Class.String()) {
				t.Errorf("Check(%s) error %q does not give the errno class %v", c.Name, res.Err, re.Class)
			}
		})
	}
}

// Rules per kernel: sha3 is unknown to a 6.1 parser (ENOPKG), SHA-1
// depends on the kernel's crypto.
func TestCheckRules(t *testing.T) {
	keys, trusted := corpusKeys(t)
	content := []byte("\x7fELF module")
	sign := func(m modsigtest.Message) []byte {
		b, err := m.Sign(content)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rsa := func(h string) modsigtest.Message {
		hash, err := modsig.HashByName(h)
		if err != nil {
			t.Fatal(err)
		}
		return modsigtest.Message{Signers: []modsigtest.Signer{{Key: keys.RSA2048.Key, Cert: keys.RSA2048.Cert, Hash: hash}}}
	}
	v61 := modsig.KernelRelease{Major: 6, Minor: 1}
	unknownSHA1 := func(name string) Availability {
		if name == "sha1" {
			return Unknown
		}
		return Available
	}
	tests := []struct {
		name    string
		image   []byte
		rules   Rules
		want    modsig.Class
		rule    string
		depends bool
	}{
		{"sha3-256 on 6.1", sign(rsa("sha3-256")), Rules{Release: v61}, modsig.ENOPKG, modsig.RuleDigestAlgo, false},
		{"sha3-256 on 6.12", sign(rsa("sha3-256")), Rules{Release: modsig.KernelRelease{Major: 6, Minor: 12}}, modsig.Accepted, "", false},
		{"sha1 with SHA-1", sign(rsa("sha1")), Rules{}, modsig.Accepted, "", false},
		{"sha1 without SHA-1", sign(rsa("sha1")), Rules{Digest: noSHA1}, modsig.ENOPKG, modsig.RuleDigestAvailable, false},
		{"sha1 in a module", sign(rsa("sha1")), Rules{Digest: unknownSHA1}, modsig.Accepted, "", true},
		{"unsigned", content, Rules{}, modsig.ENODATA, modsig.RuleUnsigned, false},
	}
	for _, tt := range tests {
		res := Check(tt.image, trusted, tt.rules)
		var re *modsig.RuleError
		errors.As(res.Err, &re)
		if res.Class != tt.want || (re != nil) != (tt.rule != "") || re != nil && re.Rule != tt.rule {
			t.Errorf("Check(%s) = %v (%v), want %v by rule %q", tt.name, res.Class, res.Err, tt.want, tt.rule)
		}
		if (len(res.Depends) > 0) != tt.depends {
			t.Errorf("Check(%s) depends on %q, want dependence %v", tt.name, res.Depends, tt.depends)
		}
	}
}

func TestProcCrypto(t *testing.T) {
	const proc = "name         : sha256\ndriver       : sha256-generic\n\nname         : rsa\n"
	digest, err := ProcCrypto(strings.NewReader(proc), func(name string) bool { return name == "sha1" })
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Availability{"sha256": Available, "sha1": Unknown, "sha3-256": Unavailable} {
		if got := digest(name); got != want {
			t.Errorf("ProcCrypto digest(%q) = %v, want %v", name, got, want)
		}
	}
}
