package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testKey is a key with a self-signed certificate like the kernel's
// x509.genkey makes (CN, subject key id, digitalSignature).
type testKey struct {
	key  crypto.Signer
	cert *x509.Certificate
}

var (
	testKeysMu sync.Mutex
	testKeys   = map[string]*testKey{}
)

// newTestKey returns the key named kind ("rsa2048", "rsa4096",
// "ecdsa256", "ecdsa384", or any of these with a suffix for a second key
// of that kind), generated once per test binary.
func newTestKey(t testing.TB, kind string) *testKey {
	t.Helper()
	testKeysMu.Lock()
	defer testKeysMu.Unlock()
	if k, ok := testKeys[kind]; ok {
		return k
	}
	var key crypto.Signer
	var err error
	switch kind[:min(len(kind), 7)] {
	case "rsa2048":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "rsa4096":
		key, err = rsa.GenerateKey(rand.Reader, 4096)
	case "ecdsa25":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ecdsa38":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		t.Fatalf("unknown test key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	skid := sha1.Sum(pubDER)
	serial, _ := new(big.Int).SetString("7f3e0a61c2d4b5e6f708192a3b4c5d6e7f8091a2", 16)
	serial.Add(serial, big.NewInt(int64(len(testKeys))))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"gokmod"}, CommonName: "gokmod test " + kind},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(100 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          skid[:],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	k := &testKey{key: key, cert: cert}
	testKeys[kind] = k
	return k
}

// write saves the key as PEM PKCS#8 and the certificate as DER in dir and
// returns their paths.
func (k *testKey) write(t testing.TB, dir string) (keyPath, certPath string) {
	t.Helper()
	p8, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		t.Fatal(err)
	}
	keyPath = filepath.Join(dir, "key.pem")
	certPath = filepath.Join(dir, "cert.der")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, k.cert.Raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return keyPath, certPath
}

func TestParseKeyFormats(t *testing.T) {
	rsaKey := newTestKey(t, "rsa2048")
	ecKey := newTestKey(t, "ecdsa256")
	p8, _ := x509.MarshalPKCS8PrivateKey(rsaKey.key)
	p1 := x509.MarshalPKCS1PrivateKey(rsaKey.key.(*rsa.PrivateKey))
	sec1, _ := x509.MarshalECPrivateKey(ecKey.key.(*ecdsa.PrivateKey))
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rsaKey.cert.Raw})
	keys := []struct {
		name string
		data []byte
		want crypto.PublicKey
	}{
		{"pkcs8 der", p8, rsaKey.key.Public()},
		{"pkcs8 pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), rsaKey.key.Public()},
		{"pkcs1 pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: p1}), rsaKey.key.Public()},
		{"pkcs1 der", p1, rsaKey.key.Public()},
		{"sec1 pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), ecKey.key.Public()},
		{"sec1 der", sec1, ecKey.key.Public()},
		{"certificate then key (kernel signing_key.pem)", append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})...), rsaKey.key.Public()},
	}
	for _, tt := range keys {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tt.data)
			if err != nil {
				t.Fatalf("ParsePrivateKey() error: %v", err)
			}
			if !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want) {
				t.Errorf("ParsePrivateKey() returned another key")
			}
		})
	}
	for _, tt := range []struct {
		name string
		data []byte
	}{{"der", rsaKey.cert.Raw}, {"pem", certPEM}, {"pem after key", append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), certPEM...)}} {
		t.Run("cert "+tt.name, func(t *testing.T) {
			c, err := ParseCertificate(tt.data)
			if err != nil {
				t.Fatalf("ParseCertificate() error: %v", err)
			}
			if !c.Equal(rsaKey.cert) {
				t.Errorf("ParseCertificate() returned another certificate")
			}
		})
	}
	for _, bad := range [][]byte{nil, []byte("junk"), certPEM, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: p8})} {
		if _, err := ParsePrivateKey(bad); err == nil {
			t.Errorf("ParsePrivateKey(%.20q) succeeded, want an error", bad)
		}
	}
	if _, err := ParseCertificate(p8); err == nil {
		t.Errorf("ParseCertificate(private key) succeeded, want an error")
	}
}

// trailerLen is the size of struct module_signature.
const trailerLen = 12

// readFile reads a fixture of package modsig, whose signatures were made
// with testdata/rsa2048.pem there.
func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
