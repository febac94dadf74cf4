package modsigtest

import (
	"crypto"
	"crypto/x509"

	"github.com/gokmod/gokmod/pkg/modsig"
)

// Key is a private key and its certificate.
type Key struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

// Keys are the keys of a corpus: three the kernel trusts and one it does
// not (the secure flavour's rsa2048, rsa4096, ecdsa256 and untrusted).
type Keys struct {
	RSA2048, RSA4096, ECDSA256, Untrusted Key
}

// Case is one crafted signature.
type Case struct {
	Name string
	// Sign returns the module content with the crafted signature block
	// (or, for the unsigned case, the content as it is).
	Sign func(content []byte) ([]byte, error)
	// Want is what a 6.12 kernel that enforces signatures, trusts the
	// three keys and has no SHA-1 answers finit_module with (measured on
	// the secure flavour, VM-NOTES.md): modsig.Accepted or an errno class.
	Want modsig.Class
}

func (k Key) signer(h crypto.Hash) Signer { return Signer{Key: k.Key, Cert: k.Cert, Hash: h} }

func one(s Signer) Message { return Message{Signers: []Signer{s}} }

// Corpus returns the crafted signatures of the kernel differential test:
// every form the kernel accepts, and every rule it refuses by.
func Corpus(k Keys) []Case {
	c := func(name string, m Message, want modsig.Class) Case {
		return Case{Name: name, Sign: m.Sign, Want: want}
	}
	with := func(s Signer, f func(*Signer)) Signer { f(&s); return s }
	msg := func(s Signer, f func(*Message)) Message { m := one(s); f(&m); return m }
	rsa := k.RSA2048.signer(crypto.SHA256)
	ec := k.ECDSA256.signer(crypto.SHA256)
	untrusted := k.Untrusted.signer(crypto.SHA256)
	A, BAD, INV, REJ := modsig.Accepted, modsig.EBADMSG, modsig.EINVAL, modsig.EKEYREJECTED
	return []Case{
		// Accepted forms.
		c("rsa2048 sha256", one(rsa), A),
		c("rsa2048 sha224", one(k.RSA2048.signer(crypto.SHA224)), A),
		c("rsa2048 sha384", one(k.RSA2048.signer(crypto.SHA384)), A),
		c("rsa2048 sha512", one(k.RSA2048.signer(crypto.SHA512)), A),
		c("rsa2048 sha3-256", one(k.RSA2048.signer(crypto.SHA3_256)), A),
		c("rsa4096 sha512", one(k.RSA4096.signer(crypto.SHA512)), A),
		c("ecdsa256 sha256", one(ec), A),
		c("ecdsa256 sha384", one(k.ECDSA256.signer(crypto.SHA384)), A),
		c("ecdsa256 sha512", one(k.ECDSA256.signer(crypto.SHA512)), A),
		c("ecdsa256 sha3-256", one(k.ECDSA256.signer(crypto.SHA3_256)), A),
		c("rsa2048 by subject key id", one(with(rsa, func(s *Signer) { s.BySKID = true })), A),
		c("ecdsa256 by subject key id", one(with(ec, func(s *Signer) { s.BySKID = true })), A),
		c("certificate embedded", msg(rsa, func(m *Message) { m.Certs = []*x509.Certificate{k.RSA2048.Cert} }), A),
		c("ecdsa sig algo names sha512, digest sha256", one(with(ec, func(s *Signer) { s.SigAlgoOID = OIDECDSAWithSHA512 })), A),
		c("untrusted signer, then trusted", Message{Signers: []Signer{untrusted, rsa}}, A),
		c("trusted signer, then untrusted and corrupt", Message{Signers: []Signer{rsa, with(untrusted, func(s *Signer) { s.Corrupt = true })}}, A),
		c("two trusted signers", Message{Signers: []Signer{rsa, ec}}, A),

		// Refused for the key or the signature value.
		c("unknown key", one(untrusted), REJ),
		c("corrupt signature", one(with(rsa, func(s *Signer) { s.Corrupt = true })), REJ),
		c("trusted signer, then trusted and corrupt", Message{Signers: []Signer{rsa, with(ec, func(s *Signer) { s.Corrupt = true })}}, REJ),
		c("untrusted signer with its certificate embedded", msg(untrusted, func(m *Message) { m.Certs = []*x509.Certificate{k.Untrusted.Cert} }), REJ),
		c("forged issuer and serial", one(Signer{Key: k.Untrusted.Key, Cert: k.RSA2048.Cert, Hash: crypto.SHA256}), REJ),
		c("ecdsa signature by the rsa2048 certificate's id", one(Signer{Key: k.ECDSA256.Key, Cert: k.RSA2048.Cert, Hash: crypto.SHA256}), REJ),

		// Refused as unsupported crypto (ENOPKG, EKEYREJECTED under enforcement).
		c("md5 digest", one(with(rsa, func(s *Signer) { s.DigestOID = OIDMD5 })), REJ),
		c("sha1 on a kernel without SHA-1", one(k.RSA2048.signer(crypto.SHA1)), REJ),
		c("sha256WithRSAEncryption as signature algorithm", one(with(rsa, func(s *Signer) { s.SigAlgoOID = OIDSHA256WithRSA })), REJ),
		c("RSASSA-PSS as signature algorithm", one(with(rsa, func(s *Signer) { s.SigAlgoOID = OIDRSAPSS })), REJ),
		c("id-ecPublicKey as signature algorithm", one(with(ec, func(s *Signer) { s.SigAlgoOID = OIDECPublicKey })), REJ),
		c("trailer id_type PGP", msg(rsa, func(m *Message) { m.IDType = Byte(0) }), REJ),
		c("trailer id_type X509", msg(rsa, func(m *Message) { m.IDType = Byte(1) }), REJ),
		c("signed attributes", one(with(rsa, func(s *Signer) { s.AuthAttrs = true })), REJ),

		// Refused by the trailer checks.
		c("trailer algo non-zero", msg(rsa, func(m *Message) { m.Algo = 1 }), BAD),
		c("trailer hash non-zero", msg(rsa, func(m *Message) { m.HashField = 4 }), BAD),
		c("trailer signer_len non-zero", msg(rsa, func(m *Message) { m.SignerLen = 1 }), BAD),
		c("trailer key_id_len non-zero", msg(rsa, func(m *Message) { m.KeyIDLen = 1 }), BAD),
		c("trailer pad non-zero", msg(rsa, func(m *Message) { m.Pad = [3]byte{0, 0, 1} }), BAD),
		c("sig_len past the file", msg(rsa, func(m *Message) { m.SigLenDelta = 1 << 24 }), BAD),
		c("sig_len short by one", msg(rsa, func(m *Message) { m.SigLenDelta = -1 }), BAD),
		c("sig_len long by one", msg(rsa, func(m *Message) { m.SigLenDelta = 1 }), BAD),
		c("PKCS#7 truncated", msg(rsa, func(m *Message) { m.Truncate = 20 }), BAD),
		c("sig_len zero", msg(rsa, func(m *Message) { m.SigLenZero = true }), BAD),
		c("bytes after the PKCS#7 message", msg(rsa, func(m *Message) { m.Trailing = []byte{0, 0, 0, 0} }), A),

		// Refused by the PKCS#7 parser.
		c("content embedded, not detached", msg(rsa, func(m *Message) { m.Embed = true }), BAD),
		c("eContentType digestedData", msg(rsa, func(m *Message) { m.EContentType = OIDDigestedData }), INV),
		c("eContentType SpcIndirectData", msg(rsa, func(m *Message) { m.EContentType = OIDSpcIndirectData }), BAD),
		c("outer content type data", msg(rsa, func(m *Message) { m.ContentType = OIDData }), INV),
		c("SignedData version 2", msg(rsa, func(m *Message) { m.Version = 2 }), INV),
		c("SignedData version 1, SignerInfo version 3", msg(with(rsa, func(s *Signer) { s.BySKID = true }), func(m *Message) { m.Version = 1 }), BAD),
		c("SignedData version 3, SignerInfo version 1", msg(rsa, func(m *Message) { m.Version = 3 }), BAD),
		c("SignerInfo version 2", one(with(rsa, func(s *Signer) { s.Version = 2 })), INV),
		c("SignerInfo version 3 with issuer and serial", msg(with(rsa, func(s *Signer) { s.Version = 3 }), func(m *Message) { m.Version = 3 }), INV),
		c("SignerInfo version 1 with subject key id", msg(with(rsa, func(s *Signer) { s.BySKID, s.Version = true, 1 }), func(m *Message) { m.Version = 1 }), INV),
		c("no SignerInfo (empty SETs)", Message{Version: 1}, BAD),
		c("no SignedData at all", msg(rsa, func(m *Message) { m.NoContent = true }), INV),
		c("signed attributes on one signer of two", Message{Signers: []Signer{rsa, with(ec, func(s *Signer) { s.AuthAttrs = true })}}, INV),

		// Not signed at all.
		{Name: "unsigned", Sign: func(content []byte) ([]byte, error) { return append([]byte{}, content...), nil }, Want: REJ},
	}
}
