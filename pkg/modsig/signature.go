package modsig

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
)

// Magic ends every signed module.
const Magic = "~Module signature appended~\n"

// trailerLen is the size of struct module_signature.
const trailerLen = 12

// IDType says how the signature blob identifies its key: the kernel's
// enum pkey_id_type. Only PKCS7 is produced or accepted by kernels since
// 4.3; the others appear in old modules and are still described by kmod.
type IDType uint8

// The kernel's PKEY_ID_* values.
const (
	PGP   IDType = 0 // OpenPGP generated key ID
	X509  IDType = 1 // X.509 arbitrary subjectKeyIdentifier
	PKCS7 IDType = 2 // signature in a PKCS#7 message
)

// String returns the name kmod prints as "sig_id".
func (t IDType) String() string {
	switch t {
	case PGP:
		return "PGP"
	case X509:
		return "X509"
	case PKCS7:
		return "PKCS#7"
	}
	return fmt.Sprintf("IDType(%d)", uint8(t))
}

// legacyKeyAlgo and legacyHashAlgo are the kernel 3.7 tables that name the
// algo and hash bytes of the trailer for the PGP and X509 id types, with
// the names kmod prints (key algorithms lower-cased here).
var (
	legacyKeyAlgo  = []string{"dsa", "rsa"}
	legacyHashAlgo = []string{"md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "sm3"}
)

// Signature describes an appended module signature with the values kmod's
// modinfo prints.
type Signature struct {
	IDType   IDType
	Signer   string // what kmod prints as "signer": the issuer's commonName for PKCS#7
	KeyID    []byte // what kmod prints as "sig_key": the serial number, or the subject key id
	HashAlgo string // "sha256", ... as kmod names it (OpenSSL's names; dotted OID if unknown)
	KeyAlgo  string // public-key algorithm: "rsa", "ecdsa", ... (dotted OID if unknown)
	BySKID   bool   // signer identified by subject key identifier, not issuer+serial
	Value    []byte // the raw signature bytes kmod prints as "signature"
	Raw      []byte // the whole signature blob as appended (for PGP/X509: signer, key id and signature)

	signer      *signerInfo // PKCS#7 only: what a verifier needs
	bareTrailer bool        // struct module_signature has only id_type and sig_len set
}

// SignerInfo is what a verifier needs of a PKCS#7 signer beyond the
// Signature's own fields.
type SignerInfo struct {
	ID SignerID
	// Hash is the digest over the module content; 0 when Go has none
	// for the digest named in HashAlgo.
	Hash crypto.Hash
	// SignedAttrs reports signed attributes, which the kernel refuses in
	// module signatures.
	SignedAttrs bool
}

// SignerInfo describes the PKCS#7 signer; ok is false for the PGP and
// X509 id types.
func (s *Signature) SignerInfo() (si SignerInfo, ok bool) {
	if s.signer == nil {
		return SignerInfo{}, false
	}
	return SignerInfo{
		ID:          SignerID{RawIssuer: s.signer.rawIssuer, Serial: s.signer.serial, SKID: s.signer.skid},
		Hash:        s.signer.digest.hash,
		SignedAttrs: s.signer.signedAttrs,
	}, true
}

// BareTrailer reports whether struct module_signature has zeros in every
// field but id_type and sig_len, as the kernel requires of PKCS#7
// signatures.
func (s *Signature) BareTrailer() bool { return s.bareTrailer }

// KmodShows reports whether kmod 30 (Debian 12's modinfo) decodes this
// signature and prints its sig_id, signer, sig_key, sig_hashalgo and
// signature lines. Its OpenSSL PKCS#7 parser cannot read a signer
// identified by subject key id (sign-file -k), and it maps the digest to a
// fixed table (md4, md5, sha1, rmd160, sha256, sha384, sha512, sha224,
// sm3), so for a sha3 digest or an unknown one it prints nothing at all.
func (s *Signature) KmodShows() bool {
	if s.IDType != PKCS7 {
		return true
	}
	if s.BySKID {
		return false
	}
	for _, h := range legacyHashAlgo {
		if s.HashAlgo == h {
			return true
		}
	}
	return false
}

// trailer is struct module_signature.
type trailer struct {
	algo, hash       uint8
	idType           IDType
	signerLen, keyID uint8
	pad              [3]byte
	sigLen           uint32
}

// blobLen is how many bytes before the trailer belong to the signature.
func (t *trailer) blobLen() int64 {
	return int64(t.sigLen) + int64(t.signerLen) + int64(t.keyID)
}

// parseTrailer finds and decodes struct module_signature at the end of
// image. ok is false when the image does not end with Magic. The checks are
// kmod's: known algorithm numbers, a non-zero signature length, and
// lengths that fit the image.
func parseTrailer(image []byte) (t trailer, ok bool, err error) {
	if len(image) < len(Magic) || !bytes.Equal(image[len(image)-len(Magic):], []byte(Magic)) {
		return t, false, nil
	}
	rest := int64(len(image) - len(Magic))
	if rest < trailerLen {
		return t, true, fmt.Errorf("%w: %d bytes before the magic, want at least %d", ErrMalformed, rest, trailerLen)
	}
	b := image[rest-trailerLen : rest]
	t = trailer{
		algo:      b[0],
		hash:      b[1],
		idType:    IDType(b[2]),
		signerLen: b[3],
		keyID:     b[4],
		pad:       [3]byte{b[5], b[6], b[7]},
		sigLen:    binary.BigEndian.Uint32(b[8:12]),
	}
	rest -= trailerLen
	switch {
	case int(t.algo) >= len(legacyKeyAlgo):
		return t, true, fmt.Errorf("%w: unknown key algorithm %d", ErrMalformed, t.algo)
	case int(t.hash) >= len(legacyHashAlgo):
		return t, true, fmt.Errorf("%w: unknown hash algorithm %d", ErrMalformed, t.hash)
	case t.idType > PKCS7:
		return t, true, fmt.Errorf("%w: unknown id type %d", ErrMalformed, uint8(t.idType))
	case t.sigLen == 0:
		return t, true, fmt.Errorf("%w: signature length is 0", ErrMalformed)
	case t.blobLen() > rest:
		return t, true, fmt.Errorf("%w: signature length %d exceeds the %d bytes before it", ErrMalformed, t.blobLen(), rest)
	}
	return t, true, nil
}

// Split looks for the "~Module signature appended~\n" trailer at the end of
// a module image. It returns the content the signature covers (image
// without that trailer and blob) and the parsed signature, or (image, nil,
// nil) when the image is unsigned. A malformed trailer or blob is an error
// wrapping ErrMalformed; content is then the whole image.
func Split(image []byte) (content []byte, sig *Signature, err error) {
	defer func() {
		if r := recover(); r != nil {
			content, sig, err = image, nil, fmt.Errorf("%w: %v", ErrMalformed, r)
		}
	}()
	t, ok, err := parseTrailer(image)
	if !ok {
		return image, nil, nil
	}
	if err != nil {
		return image, nil, err
	}
	end := int64(len(image)) - int64(len(Magic)) - trailerLen
	start := end - t.blobLen()
	blob := image[start:end]
	if t.idType == PKCS7 {
		sig, err = parsePKCS7(blob[len(blob)-int(t.sigLen):])
		if err != nil {
			return image, nil, err
		}
		sig.Raw = blob[len(blob)-int(t.sigLen):]
		sig.bareTrailer = t.algo == 0 && t.hash == 0 && t.signerLen == 0 && t.keyID == 0 && t.pad == [3]byte{}
		return image[:start], sig, nil
	}
	sig = &Signature{
		IDType:   t.idType,
		Signer:   string(blob[:t.signerLen]),
		KeyID:    blob[t.signerLen : int(t.signerLen)+int(t.keyID)],
		HashAlgo: legacyHashAlgo[t.hash],
		KeyAlgo:  legacyKeyAlgo[t.algo],
		Value:    blob[int(t.signerLen)+int(t.keyID):],
		Raw:      blob,
	}
	return image[:start], sig, nil
}
