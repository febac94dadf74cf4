package modsig

import (
	"crypto"
	"encoding/asn1"
)

// Object identifiers of the PKCS#7 structures and algorithms.
var (
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidECPublicKey   = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
)

// digestAlgo names a digest the way OpenSSL's OBJ_obj2txt (and so kmod)
// does, with the Go hash behind it (0 when Go has none).
type digestAlgo struct {
	oid  asn1.ObjectIdentifier
	name string
	hash crypto.Hash
}

var digestAlgos = []digestAlgo{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 4}, "md4", 0},
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}, "md5", 0},
	{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, "sha1", crypto.SHA1},
	{asn1.ObjectIdentifier{1, 3, 36, 3, 2, 1}, "rmd160", 0},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, "sha256", crypto.SHA256},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, "sha384", crypto.SHA384},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, "sha512", crypto.SHA512},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}, "sha224", crypto.SHA224},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 8}, "sha3-256", crypto.SHA3_256},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 9}, "sha3-384", crypto.SHA3_384},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 10}, "sha3-512", crypto.SHA3_512},
	{asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}, "sm3", 0},
}

func digestByOID(oid asn1.ObjectIdentifier) (digestAlgo, bool) {
	for _, d := range digestAlgos {
		if d.oid.Equal(oid) {
			return d, true
		}
	}
	return digestAlgo{oid: oid, name: oid.String()}, false
}

func digestByName(name string) (digestAlgo, bool) {
	for _, d := range digestAlgos {
		if d.name == name {
			return d, true
		}
	}
	return digestAlgo{}, false
}

func digestByHash(h crypto.Hash) (digestAlgo, bool) {
	for _, d := range digestAlgos {
		if d.hash == h && h != 0 {
			return d, true
		}
	}
	return digestAlgo{}, false
}

// keyAlgoName names the public-key algorithm of a PKCS#7 signature
// algorithm identifier: the key's OID (what sign-file writes) or a combined
// signature OID.
func keyAlgoName(oid asn1.ObjectIdentifier) string {
	switch {
	case oid.Equal(oidRSAEncryption):
		return "rsa"
	case oid.Equal(oidECPublicKey):
		return "ecdsa"
	case hasPrefix(oid, asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1}): // shaXWithRSAEncryption, RSASSA-PSS
		if oid[len(oid)-1] == 10 {
			return "rsa-pss"
		}
		return "rsa"
	case hasPrefix(oid, asn1.ObjectIdentifier{1, 2, 840, 10045, 4}): // ecdsa-with-SHAx
		return "ecdsa"
	case hasPrefix(oid, asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3}): // NIST sigAlgs: dsa, ecdsa, rsa with sha2/sha3
		switch n := oid[len(oid)-1]; {
		case n >= 9 && n <= 12:
			return "ecdsa"
		case n >= 13 && n <= 16:
			return "rsa"
		default:
			return "dsa"
		}
	case oid.Equal(asn1.ObjectIdentifier{1, 3, 101, 112}):
		return "ed25519"
	case oid.Equal(asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 501}), oid.Equal(asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 301}):
		return "sm2"
	}
	return oid.String()
}

func hasPrefix(oid, prefix asn1.ObjectIdentifier) bool {
	return len(oid) > len(prefix) && oid[:len(prefix)].Equal(prefix)
}

// DigestOID is the algorithm identifier of digest h in a SignerInfo, as
// sign-file writes it.
func DigestOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	d, ok := digestByHash(h)
	return d.oid, ok
}

// ECDSASignatureOID is the ECDSA signature algorithm identifier OpenSSL's
// CMS writes for digest h.
func ECDSASignatureOID(h crypto.Hash) (asn1.ObjectIdentifier, bool) {
	oid, ok := ecdsaSigAlgos[h]
	return oid, ok
}
