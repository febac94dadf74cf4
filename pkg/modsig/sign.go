package modsig

import (
	"crypto"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
)

// HashByName returns the digest that sign-file and kmod call name
// ("sha256", "SHA3-256", ...), if SignedData supports it.
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

// SignerID identifies the certificate of a PKCS#7 signer: by issuer and
// serial number, or, when SKID is set, by subject key identifier.
type SignerID struct {
	RawIssuer []byte   // DER of the certificate's issuer Name
	Serial    *big.Int // the certificate's serial number
	SKID      []byte   // the certificate's subject key identifier (sign-file -k)
}

// SignedData returns the detached PKCS#7 SignedData that carries value, a
// signature made with a keyAlgo ("rsa" for PKCS #1 v1.5, "ecdsa" for an
// ASN.1 ECDSA signature) key over a digest made with hash, byte for byte
// what scripts/sign-file writes: no certificates, no signed attributes.
// Errors wrap ErrUnknownHash for a digest the kernel does not verify, or
// ErrUnknownKeyAlgo.
func SignedData(hash crypto.Hash, keyAlgo string, id SignerID, value []byte) ([]byte, error) {
	if !signable(hash) {
		return nil, fmt.Errorf("%w %v", ErrUnknownHash, hash)
	}
	digest, _ := digestByHash(hash)
	var sigAlgo []byte
	switch keyAlgo {
	case "rsa":
		sigAlgo = element(tagSequence, marshal(oidRSAEncryption), []byte{tagNull, 0})
	case "ecdsa":
		sigAlgo = element(tagSequence, marshal(ecdsaSigAlgos[hash]))
	default:
		return nil, fmt.Errorf("%w %q (want rsa or ecdsa)", ErrUnknownKeyAlgo, keyAlgo)
	}
	var sid, version []byte // version: 1 for issuer+serial, 3 for SKID (CMS)
	if id.SKID != nil {
		sid = element(tagContext0Raw, id.SKID)
		version = []byte{tagInteger, 1, 3}
	} else {
		if id.Serial == nil {
			return nil, fmt.Errorf("signer id has neither a serial number nor a subject key id")
		}
		sid = element(tagSequence, id.RawIssuer, marshal(id.Serial))
		version = []byte{tagInteger, 1, 1}
	}
	digestAlgo := element(tagSequence, marshal(digest.oid))
	signerInfo := element(tagSequence,
		version,
		sid,
		digestAlgo,
		sigAlgo,
		element(tagOctetString, value),
	)
	signedData := element(tagSequence,
		version,
		element(tagSet, digestAlgo),
		element(tagSequence, marshal(oidData)),
		element(tagSet, signerInfo),
	)
	return element(tagSequence, marshal(oidSignedData), element(tagContext0, signedData)), nil
}

// Block wraps a PKCS#7 signature (from SignedData, or a raw signature
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
