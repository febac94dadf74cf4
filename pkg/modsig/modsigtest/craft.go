package modsigtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/gokmod/gokmod/pkg/modsig"
)

// Object identifiers a crafted message may use.
var (
	OIDData             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSignedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDDigestedData     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 5}
	OIDSpcIndirectData  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}
	OIDRSAEncryption    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	OIDSHA256WithRSA    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	OIDRSAPSS           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	OIDECPublicKey      = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	OIDECDSAWithSHA512  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	OIDMD5              = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}
	oidAttrContentType  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigst = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
)

// Signer describes one SignerInfo.
type Signer struct {
	Key  crypto.Signer     // RSA (PKCS #1 v1.5) or ECDSA
	Cert *x509.Certificate // names the signer
	Hash crypto.Hash       // default SHA-256

	BySKID     bool                  // identify by subject key id (else issuer and serial)
	Version    int                   // SignerInfo version; 0: 1 for issuer+serial, 3 for SKID
	DigestOID  asn1.ObjectIdentifier // replaces the digest algorithm's OID (the digest is still Hash's)
	SigAlgoOID asn1.ObjectIdentifier // replaces rsaEncryption / ecdsa-with-<Hash>
	AuthAttrs  bool                  // signed attributes (contentType, messageDigest); the signature covers them
	Corrupt    bool                  // flip a bit of the signature value
}

// Message describes a PKCS#7 ContentInfo and the trailer around it.
type Message struct {
	Signers      []Signer
	Version      int                   // SignedData version; 0: 1, or 3 if any signer is by SKID
	ContentType  asn1.ObjectIdentifier // outer; default signedData
	EContentType asn1.ObjectIdentifier // default data
	Embed        bool                  // put the content into the message (not detached)
	Certs        []*x509.Certificate   // embedded certificates
	NoContent    bool                  // a ContentInfo with no [0] SignedData

	// The struct module_signature fields; IDType defaults to PKCS#7 (2).
	Algo, HashField, SignerLen, KeyIDLen byte
	IDType                               *byte
	Pad                                  [3]byte
	SigLenDelta                          int    // added to sig_len
	SigLenZero                           bool   // sig_len 0
	Trailing                             []byte // bytes after the ContentInfo, inside sig_len
	Truncate                             int    // bytes cut from the end of the PKCS#7 (sig_len follows)
}

// Sign returns content followed by the crafted signature block.
func (m Message) Sign(content []byte) ([]byte, error) {
	p7, err := m.PKCS7(content)
	if err != nil {
		return nil, err
	}
	if m.Truncate > 0 {
		p7 = p7[:max(len(p7)-m.Truncate, 0)]
	}
	p7 = append(p7, m.Trailing...)
	idType := byte(modsig.PKCS7)
	if m.IDType != nil {
		idType = *m.IDType
	}
	out := append(append([]byte{}, content...), p7...)
	out = append(out, m.Algo, m.HashField, idType, m.SignerLen, m.KeyIDLen, m.Pad[0], m.Pad[1], m.Pad[2])
	sigLen := uint32(len(p7) + m.SigLenDelta)
	if m.SigLenZero {
		sigLen = 0
	}
	out = binary.BigEndian.AppendUint32(out, sigLen)
	return append(out, modsig.Magic...), nil
}

// PKCS7 returns the DER of the crafted ContentInfo over content.
func (m Message) PKCS7(content []byte) ([]byte, error) {
	eType := m.EContentType
	if eType == nil {
		eType = OIDData
	}
	version := m.Version
	if version == 0 {
		version = 1
		for _, s := range m.Signers {
			if s.BySKID {
				version = 3
			}
		}
	}
	var digestAlgos, infos [][]byte
	for i, s := range m.Signers {
		si, dalg, err := s.signerInfo(content, eType)
		if err != nil {
			return nil, fmt.Errorf("signer %d: %w", i+1, err)
		}
		infos = append(infos, si)
		digestAlgos = append(digestAlgos, dalg)
	}
	eci := [][]byte{mustMarshal(eType)}
	if m.Embed {
		eci = append(eci, elem(0xa0, elem(0x04, content)))
	}
	parts := [][]byte{
		mustMarshal(version),
		elem(0x31, digestAlgos...),
		elem(0x30, eci...),
	}
	if len(m.Certs) > 0 {
		var raw [][]byte
		for _, c := range m.Certs {
			raw = append(raw, c.Raw)
		}
		parts = append(parts, elem(0xa0, raw...))
	}
	parts = append(parts, elem(0x31, infos...))
	ctype := m.ContentType
	if ctype == nil {
		ctype = OIDSignedData
	}
	if m.NoContent {
		return elem(0x30, mustMarshal(ctype)), nil
	}
	return elem(0x30, mustMarshal(ctype), elem(0xa0, elem(0x30, parts...))), nil
}

func (s Signer) signerInfo(content []byte, eType asn1.ObjectIdentifier) (si, digestAlgo []byte, err error) {
	h := s.Hash
	if h == 0 {
		h = crypto.SHA256
	}
	dOID := s.DigestOID
	if dOID == nil {
		dOID, _ = modsig.DigestOID(h)
	}
	digestAlgo = elem(0x30, mustMarshal(dOID))
	hh := h.New()
	hh.Write(content)
	digest := hh.Sum(nil)

	var sigAlgo []byte
	switch s.Key.Public().(type) {
	case *rsa.PublicKey:
		oid := OIDRSAEncryption
		if s.SigAlgoOID != nil {
			oid = s.SigAlgoOID
		}
		sigAlgo = elem(0x30, mustMarshal(oid), []byte{0x05, 0})
	case *ecdsa.PublicKey:
		oid, _ := modsig.ECDSASignatureOID(h)
		if s.SigAlgoOID != nil {
			oid = s.SigAlgoOID
		}
		sigAlgo = elem(0x30, mustMarshal(oid))
	default:
		return nil, nil, fmt.Errorf("key %T: want RSA or ECDSA", s.Key.Public())
	}

	var attrs []byte
	toSign := digest
	if s.AuthAttrs {
		set := elem(0x31,
			elem(0x30, mustMarshal(oidAttrContentType), elem(0x31, mustMarshal(eType))),
			elem(0x30, mustMarshal(oidAttrMessageDigst), elem(0x31, elem(0x04, digest))),
		)
		ah := h.New()
		ah.Write(set)
		toSign = ah.Sum(nil)
		attrs = append([]byte{0xa0}, set[1:]...) // [0] IMPLICIT
	}
	value, err := s.Key.Sign(rand.Reader, toSign, h)
	if err != nil {
		return nil, nil, err
	}
	if s.Corrupt {
		value[len(value)/2] ^= 0x01
	}

	version := s.Version
	var sid []byte
	if s.BySKID {
		sid = elem(0x80, s.Cert.SubjectKeyId)
		if version == 0 {
			version = 3
		}
	} else {
		sid = elem(0x30, s.Cert.RawIssuer, mustMarshal(s.Cert.SerialNumber))
		if version == 0 {
			version = 1
		}
	}
	parts := [][]byte{mustMarshal(version), sid, digestAlgo}
	if attrs != nil {
		parts = append(parts, attrs)
	}
	parts = append(parts, sigAlgo, elem(0x04, value))
	return elem(0x30, parts...), digestAlgo, nil
}

func mustMarshal(v any) []byte {
	if n, ok := v.(*big.Int); ok {
		v = n
	}
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// elem is one DER element: tag, definite length, contents.
func elem(tag byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := []byte{tag}
	switch {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	case n < 0x10000:
		out = append(out, 0x82, byte(n>>8), byte(n))
	default:
		out = append(out, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Byte returns a pointer to b, for Message.IDType.
func Byte(b byte) *byte { return &b }
