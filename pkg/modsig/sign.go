package modsig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"strings"
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
	digest  digestAlgo
	bySKID  bool
	rand    io.Reader
	sigAlgo []byte // DER AlgorithmIdentifier of the signature
	sid     []byte // DER SignerIdentifier
	version []byte // DER INTEGER: 1 for issuer+serial, 3 for SKID (CMS)
}

// HashByName returns the digest that sign-file and kmod call name
// ("sha256", "SHA3-256", ...), if Sign supports it.
func HashByName(name string) (crypto.Hash, error) {
	d, ok := digestByName(strings.ToLower(name))
	if !ok || !signable(d.hash) {
		return 0, fmt.Errorf("%w %q (want sha1, sha224, sha256, sha384, sha512, sha3-256, sha3-384 or sha3-512)", ErrUnknownHash, name)
	}
	return d.hash, nil
}

func signable(h crypto.Hash) bool {
	switch h {
	case crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512,
		crypto.SHA3_256, crypto.SHA3_384, crypto.SHA3_512:
		return true
	}
	return false
}

// ecdsaSigAlgos are the ECDSA signature algorithm OIDs OpenSSL's CMS writes
// for each digest.
var ecdsaSigAlgos = map[crypto.Hash]asn1.ObjectIdentifier{
	crypto.SHA1:     {1, 2, 840, 10045, 4, 1},
	crypto.SHA224:   {1, 2, 840, 10045, 4, 3, 1},
	crypto.SHA256:   {1, 2, 840, 10045, 4, 3, 2},
	crypto.SHA384:   {1, 2, 840, 10045, 4, 3, 3},
	crypto.SHA512:   {1, 2, 840, 10045, 4, 3, 4},
	crypto.SHA3_256: {2, 16, 840, 1, 101, 3, 4, 3, 10},
	crypto.SHA3_384: {2, 16, 840, 1, 101, 3, 4, 3, 11},
	crypto.SHA3_512: {2, 16, 840, 1, 101, 3, 4, 3, 12},
}

func marshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err) // only called with OIDs and integers, which always encode
	}
	return b
}

// NewSigner checks that key and cert belong together and that the key
// type and digest are ones the kernel verifies (RSA, ECDSA P-256/P-384),
// so that nothing is written with a signature no kernel accepts.
func NewSigner(key crypto.Signer, cert *x509.Certificate, opts Options) (*Signer, error) {
	if !signable(opts.Hash) {
		return nil, fmt.Errorf("%w %v", ErrUnknownHash, opts.Hash)
	}
	digest, _ := digestByHash(opts.Hash)
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, ErrKeyMismatch
	}
	s := &Signer{key: key, cert: cert, digest: digest, bySKID: opts.BySKID, rand: opts.Rand}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		s.sigAlgo = element(tagSequence, marshal(oidRSAEncryption), []byte{tagNull, 0})
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, fmt.Errorf("%w: ECDSA curve %s (want P-256 or P-384)", ErrKeyType, k.Curve.Params().Name)
		}
		s.sigAlgo = element(tagSequence, marshal(ecdsaSigAlgos[opts.Hash]))
	default:
		return nil, fmt.Errorf("%w: %T (want RSA or ECDSA)", ErrKeyType, k)
	}
	if opts.BySKID {
		if len(cert.SubjectKeyId) == 0 {
			return nil, ErrNoSKID
		}
		s.sid = element(tagContext0Raw, cert.SubjectKeyId)
		s.version = []byte{tagInteger, 1, 3}
	} else {
		s.sid = element(tagSequence, cert.RawIssuer, marshal(cert.SerialNumber))
		s.version = []byte{tagInteger, 1, 1}
	}
	return s, nil
}

// Certificate is the certificate the signer is identified by.
func (s *Signer) Certificate() *x509.Certificate { return s.cert }

// PKCS7 returns the detached PKCS#7 SignedData over content, byte for byte
// what scripts/sign-file writes: no certificates, no signed attributes.
func (s *Signer) PKCS7(content []byte) ([]byte, error) {
	h := s.digest.hash.New()
	h.Write(content)
	return s.PKCS7Digest(h.Sum(nil))
}

// PKCS7Digest is PKCS7 for a digest the caller computed with the
// Signer's hash.
func (s *Signer) PKCS7Digest(digest []byte) ([]byte, error) {
	if len(digest) != s.digest.hash.Size() {
		return nil, fmt.Errorf("digest is %d bytes, want %d for %s", len(digest), s.digest.hash.Size(), s.digest.name)
	}
	value, err := s.key.Sign(s.rand, digest, s.digest.hash)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	digestAlgo := element(tagSequence, marshal(s.digest.oid))
	signerInfo := element(tagSequence,
		s.version,
		s.sid,
		digestAlgo,
		s.sigAlgo,
		element(tagOctetString, value),
	)
	signedData := element(tagSequence,
		s.version,
		element(tagSet, digestAlgo),
		element(tagSequence, marshal(oidData)),
		element(tagSet, signerInfo),
	)
	return element(tagSequence, marshal(oidSignedData), element(tagContext0, signedData)), nil
}

// Sign returns the block to append to content: the PKCS#7 signature,
// struct module_signature and the magic.
func (s *Signer) Sign(content []byte) ([]byte, error) {
	p7, err := s.PKCS7(content)
	if err != nil {
		return nil, err
	}
	return Block(p7), nil
}

// Block wraps a PKCS#7 signature (from Signer.PKCS7, or a raw signature
// made elsewhere, sign-file -s) into the block appended to a module.
func Block(pkcs7 []byte) []byte {
	out := make([]byte, 0, len(pkcs7)+trailerLen+len(Magic))
	out = append(out, pkcs7...)
	out = append(out, 0, 0, byte(PKCS7), 0, 0, 0, 0, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(len(pkcs7)))
	return append(out, Magic...)
}

// serialBytes is the big-endian magnitude of a serial number, what kmod
// prints as sig_key (OpenSSL's BN_bn2bin).
func serialBytes(n *big.Int) []byte { return new(big.Int).Abs(n).Bytes() }
