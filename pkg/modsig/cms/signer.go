package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // the digests NewSigner accepts
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"
	"crypto/x509"
	"fmt"
	"io"

	"github.com/gokmod/gokmod/pkg/modsig"
)

// Options say how Sign identifies the signer and digests the module.
type Options struct {
	// Hash is the digest: SHA1, SHA224, SHA256, SHA384, SHA512 or
	// SHA3_256, SHA3_384, SHA3_512 (which kernels since 6.7 accept).
	Hash crypto.Hash
	// BySKID identifies the signer by the certificate's subject key
	// identifier instead of its issuer and serial number (sign-file -k).
	BySKID bool
	// Rand is the randomness for ECDSA; nil means crypto/rand.
	Rand io.Reader
}

// Signer signs module contents with one key and certificate.
// It is safe for concurrent use if its crypto.Signer is.
type Signer struct {
	key     crypto.Signer
	cert    *x509.Certificate
	hash    crypto.Hash
	keyAlgo string // "rsa" or "ecdsa", as modsig.SignedData names it
	id      modsig.SignerID
	rand    io.Reader
}

// NewSigner checks that key and cert belong together and that the key
// type and digest are ones the kernel verifies (RSA, ECDSA P-256/P-384),
// so that nothing is written with a signature no kernel accepts.
// Errors wrap modsig.ErrUnknownHash, ErrKeyMismatch, ErrKeyType or
// ErrNoSKID.
func NewSigner(key crypto.Signer, cert *x509.Certificate, opts Options) (*Signer, error) {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, ErrKeyMismatch
	}
	s := &Signer{key: key, cert: cert, hash: opts.Hash, rand: opts.Rand}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		s.keyAlgo = "rsa"
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, fmt.Errorf("%w: ECDSA curve %s (want P-256 or P-384)", ErrKeyType, k.Curve.Params().Name)
		}
		s.keyAlgo = "ecdsa"
	default:
		return nil, fmt.Errorf("%w: %T (want RSA or ECDSA)", ErrKeyType, k)
	}
	if opts.BySKID {
		if len(cert.SubjectKeyId) == 0 {
			return nil, ErrNoSKID
		}
		s.id = modsig.SignerID{SKID: cert.SubjectKeyId}
	} else {
		s.id = modsig.SignerID{RawIssuer: cert.RawIssuer, Serial: cert.SerialNumber}
	}
	// Build once without a signature value: this checks the digest
	// before anything is signed.
	if _, err := modsig.SignedData(s.hash, s.keyAlgo, s.id, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// Certificate is the certificate the signer is identified by.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// PKCS7 returns the detached PKCS#7 SignedData over content, byte for byte
// what scripts/sign-file writes: no certificates, no signed attributes.
func (s *Signer) PKCS7(content []byte) ([]byte, error) {
	h := s.hash.New()
	h.Write(content)
	return s.PKCS7Digest(h.Sum(nil))
}

// PKCS7Digest is PKCS7 for a digest the caller computed with the
// Signer's hash.
func (s *Signer) PKCS7Digest(digest []byte) ([]byte, error) {
	if len(digest) != s.hash.Size() {
		return nil, fmt.Errorf("digest is %d bytes, want %d for %v", len(digest), s.hash.Size(), s.hash)
	}
	value, err := s.key.Sign(s.rand, digest, s.hash)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return modsig.SignedData(s.hash, s.keyAlgo, s.id, value)
}

// Sign returns the block to append to content: the PKCS#7 signature,
// struct module_signature and the magic.
func (s *Signer) Sign(content []byte) ([]byte, error) {
	p7, err := s.PKCS7(content)
	if err != nil {
		return nil, err
	}
	return modsig.Block(p7), nil
}
