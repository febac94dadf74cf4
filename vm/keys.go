package main

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
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Keys is the directory of test signing keys (the GOKMOD_KEYS contract).
type Keys struct {
	Dir string
	// TrustedPEM holds the certificates the secure kernel trusts.
	TrustedPEM []byte
}

// testKeys lists the keys: name, generator, trusted by the secure kernel.
var testKeys = []struct {
	name    string
	gen     func() (crypto.Signer, error)
	trusted bool
}{
	{"rsa2048", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }, true},
	{"rsa4096", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 4096) }, true},
	{"ecdsa256", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }, true},
	{"untrusted", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }, false},
}

// provisionKeys generates the keys once per cache; "v1" names the set of
// keys and certificate profile above.
func provisionKeys(c *Cache) (*Keys, error) {
	dir, err := artifact(c.path("keys", "v1"), func(tmp string) error {
		for _, k := range testKeys {
			if err := writeKey(tmp, k.name, k.gen); err != nil {
				return fmt.Errorf("generate %s: %w", k.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("provision keys: %w", err)
	}
	keys := &Keys{Dir: dir}
	for _, k := range testKeys {
		if !k.trusted {
			continue
		}
		der, err := os.ReadFile(filepath.Join(dir, k.name+".der"))
		if err != nil {
			return nil, err
		}
		keys.TrustedPEM = append(keys.TrustedPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return keys, nil
}

// writeKey writes NAME.priv (PKCS#8 PEM) and NAME.der (a self-signed X.509
// certificate for module signing, like a MOK made by openssl req -x509).
func writeKey(dir, name string, gen func() (crypto.Signer, error)) error {
	key, err := gen()
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	skid := sha1.Sum(pub)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"gokmod"}, CommonName: "gokmod test key " + name},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.AddDate(30, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		SubjectKeyId:          skid[:],
		AuthorityKeyId:        skid[:],
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return err
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, name+".priv"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name+".der"), der, 0o644)
}
