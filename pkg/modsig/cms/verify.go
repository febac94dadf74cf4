package cms

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gokmod/gokmod/pkg/modsig"
)

// Availability says whether a kernel can compute a digest.
type Availability int

// Whether a kernel has a hash algorithm.
const (
	Available   Availability = iota // built in, or listed in /proc/crypto
	Unavailable                     // the kernel has no such hash
	Unknown                         // it may (a module could provide it): the verdict depends on it
)

// Rules are what a kernel's verdict depends on besides the module, the
// signature and the trusted keys: its release (which digests and
// signature algorithms its PKCS#7 parser knows) and the hashes its crypto
// API has (a kernel built without SHA-1 refuses a SHA-1 signature that
// another accepts).
type Rules struct {
	// Release gives the parser's rules; the zero value means the newest
	// (modsig.Newest).
	Release modsig.KernelRelease
	// Digest says whether the kernel has the hash the kernel calls name
	// ("sha1", "sha256", "sha3-256", ...). Nil means every hash is there.
	Digest func(name string) Availability
}

func (r Rules) release() modsig.KernelRelease {
	if r.Release == (modsig.KernelRelease{}) {
		return modsig.Newest
	}
	return r.Release
}

func (r Rules) digest(name string) Availability {
	if r.Digest == nil {
		return Available
	}
	return r.Digest(name)
}

// ProcCrypto reads the names of /proc/crypto (a kernel's crypto API
// algorithms) into a Rules.Digest. An algorithm missing there may still be
// provided by a module the kernel can load: modules, if not nil, reports
// whether the module directory names one for it (a "crypto-NAME" alias),
// which makes the answer Unknown instead of Unavailable.
func ProcCrypto(r io.Reader, modules func(name string) bool) (func(name string) Availability, error) {
	names := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(key) == "name" {
			names[strings.TrimSpace(value)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/crypto: %w", err)
	}
	return func(name string) Availability {
		switch {
		case names[name]:
			return Available
		case modules != nil && modules(name):
			return Unknown
		}
		return Unavailable
	}, nil
}

// Result is the kernel's verdict on a module's signature.
type Result struct {
	// Signature describes the first signer as modinfo shows it (nil when
	// the module is unsigned or modinfo could not read it either).
	Signature *modsig.Signature
	// Message is every signer as the kernel's parser read it (nil when a
	// parsing rule refused the signature).
	Message *modsig.Message
	// Signer is the index in Message.Signers of the trusted signer that
	// verified (-1 when refused). Cert is its certificate, or, when a
	// trusted key's signature did not verify, that key's certificate.
	Signer int
	Cert   *x509.Certificate
	// Class is modsig.Accepted or the errno class of the refusal: what
	// module_sig_check returns, before enforcement (Class.Enforced).
	Class modsig.Class
	// Err is nil when the kernel would accept the signature; otherwise it
	// wraps ErrNotSigned, ErrUnknownSigner or ErrBadSignature, and a
	// *modsig.RuleError naming the rule.
	Err error
	// Depends lists what the verdict assumes about the kernel that Rules
	// could not settle ("sha1 is available"); empty when nothing.
	Depends []string
}

// Check applies the kernel's module signature checks to image, with certs
// as the trusted keys (the kernel's secondary trusted keyring), rule by
// rule: module_sig_check and mod_check_sig (marker, trailer fields), the
// PKCS#7 parser (content type, versions, digest and signature algorithms,
// signed attributes, every SignerInfo: modsig.CheckModule), then
// pkcs7_verify (module rules; each signer's digest, and its signature
// against a certificate the message carries) and pkcs7_validate_trust:
// a signer whose key is not trusted is passed over, every signer whose key
// is trusted must verify, and one that does is enough.
func Check(image []byte, certs []*x509.Certificate, rules Rules) Result {
	res := Result{Signer: -1}
	_, res.Signature, _ = modsig.Split(image)
	msg, err := modsig.CheckModule(image, rules.release())
	if err != nil {
		return res.refuse(err)
	}
	res.Message = msg

	// pkcs7_verify: each signer's digest, and its signature against a
	// certificate the message carries.
	digests := map[crypto.Hash][]byte{}
	unsupported := make([]bool, len(msg.Signers))
	embedded := make([]*x509.Certificate, len(msg.Signers))
	supported := 0
	for i := range msg.Signers {
		s := &msg.Signers[i]
		switch rules.digest(s.HashName) {
		case Unavailable:
			unsupported[i] = true
			continue
		case Unknown:
			res.Depends = append(res.Depends, fmt.Sprintf("the kernel has %s (a module provides it; /proc/crypto does not list it yet)", s.HashName))
		}
		if s.Hash == 0 || !s.Hash.Available() {
			res.Depends = append(res.Depends, fmt.Sprintf("signer %d's digest %s, which gokmod cannot compute, is taken as unsupported", i+1, s.HashName))
			unsupported[i] = true
			continue
		}
		supported++
		if _, ok := digests[s.Hash]; !ok {
			h := s.Hash.New()
			h.Write(msg.Content)
			digests[s.Hash] = h.Sum(nil)
		}
		for _, raw := range msg.Certs {
			c, err := x509.ParseCertificate(raw)
			if err != nil {
				return res.refuse(&modsig.RuleError{Rule: modsig.RuleCertificate, Class: modsig.EBADMSG, Detail: err.Error(), Err: modsig.ErrMalformed})
			}
			if matches(s.ID, c) {
				if err := verifyWith(c.PublicKey, s, digests[s.Hash]); err != nil {
					err.Rule = modsig.RuleEmbeddedCert
					err.Detail = fmt.Sprintf("signer %d, against the certificate it carries (%q): %s", i+1, c.Subject.CommonName, err.Detail)
					return res.refuse(err)
				}
				embedded[i] = c
				break
			}
		}
	}
	if supported == 0 {
		return res.refuse(&modsig.RuleError{Rule: modsig.RuleDigestAvailable, Class: modsig.ENOPKG, Err: modsig.ErrUnsupported,
			Detail: fmt.Sprintf("the kernel has no %s", msg.Signers[0].HashName)})
	}

	// pkcs7_validate_trust.
	verdict := modsig.ENOKEY
	for i := range msg.Signers {
		s := &msg.Signers[i]
		if unsupported[i] {
			if verdict == modsig.ENOKEY {
				verdict = modsig.ENOPKG
			}
			continue
		}
		if c := embedded[i]; c != nil {
			if t := trustedFor(c, certs); t != nil {
				if res.Signer < 0 {
					res.Signer, res.Cert = i, t
				}
				verdict = modsig.Accepted
				continue
			}
		}
		if s.EmptyID {
			return res.refuse(&modsig.RuleError{Rule: modsig.RuleSignerID, Class: modsig.EINVAL, Err: modsig.ErrMalformed,
				Detail: fmt.Sprintf("signer %d: its SignerInfo version (%d) names the signer by %s, but the identifier is the other form, so the kernel looks its key up by an empty id", i+1, s.Version, map[bool]string{true: "subject key id", false: "issuer and serial"}[s.Version == 3])})
		}
		cert := findSigner(s.ID, certs)
		if cert == nil {
			continue
		}
		if err := verifyWith(cert.PublicKey, s, digests[s.Hash]); err != nil {
			err.Detail = fmt.Sprintf("signer %d, trusted certificate %q: %s", i+1, cert.Subject.CommonName, err.Detail)
			res.Cert = cert
			return res.refuse(err)
		}
		if res.Signer < 0 {
			res.Signer, res.Cert = i, cert
		}
		verdict = modsig.Accepted
	}
	switch verdict {
	case modsig.ENOPKG:
		return res.refuse(&modsig.RuleError{Rule: modsig.RuleDigestAvailable, Class: modsig.ENOPKG, Err: modsig.ErrUnsupported,
			Detail: "no signer with a trusted key has a digest the kernel computes"})
	case modsig.ENOKEY:
		return res.refuse(&modsig.RuleError{Rule: modsig.RuleNoKey, Class: modsig.ENOKEY, Err: ErrUnknownSigner,
			Detail: "no signer's key is among the trusted certificates (" + describeSigners(msg) + ")"})
	}
	res.Class = modsig.Accepted
	return res
}

func (r Result) refuse(err error) Result {
	var re *modsig.RuleError
	if !errors.As(err, &re) {
		re = &modsig.RuleError{Rule: modsig.RuleASN1, Class: modsig.EBADMSG, Detail: err.Error(), Err: modsig.ErrMalformed}
	}
	r.Class = re.Class
	switch re.Class {
	case modsig.ENODATA:
		r.Err = fmt.Errorf("%w: %w", ErrNotSigned, re)
	case modsig.ENOKEY:
		r.Err = fmt.Errorf("%w: %w", ErrUnknownSigner, re)
	default:
		r.Err = fmt.Errorf("%w: %w", ErrBadSignature, re)
	}
	r.Signer = -1
	if re.Rule != modsig.RuleVerify && re.Rule != modsig.RuleKeyAlgo {
		r.Cert = nil
	}
	return r
}

func describeSigners(msg *modsig.Message) string {
	var parts []string
	for i, s := range msg.Signers {
		if s.ID.SKID != nil {
			parts = append(parts, fmt.Sprintf("signer %d: key id %x", i+1, s.ID.SKID))
		} else if s.ID.Serial != nil {
			parts = append(parts, fmt.Sprintf("signer %d: serial %x", i+1, s.ID.Serial))
		}
	}
	return strings.Join(parts, "; ")
}

// verifyWith is public_key_verify_signature: the key's algorithm must be
// the signature's, then RSA PKCS#1 v1.5 or ECDSA (X9.62) over the digest.
func verifyWith(pub any, s *modsig.KernelSigner, digest []byte) *modsig.RuleError {
	reject := func(rule, format string, a ...any) *modsig.RuleError {
		return &modsig.RuleError{Rule: rule, Class: modsig.EKEYREJECTED, Err: ErrBadSignature, Detail: fmt.Sprintf(format, a...)}
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if s.KeyAlgo != "rsa" {
			return reject(modsig.RuleKeyAlgo, "%s signature for an RSA key", s.KeyAlgo)
		}
		if err := rsa.VerifyPKCS1v15(pub, s.Hash, digest, s.Value); err != nil {
			return reject(modsig.RuleVerify, "RSA %s signature does not verify", s.HashName)
		}
	case *ecdsa.PublicKey:
		if s.KeyAlgo != "ecdsa" {
			return reject(modsig.RuleKeyAlgo, "%s signature for an ECDSA key", s.KeyAlgo)
		}
		if !ecdsa.VerifyASN1(pub, digest, s.Value) {
			return reject(modsig.RuleVerify, "ECDSA %s signature does not verify", s.HashName)
		}
	default:
		return reject(modsig.RuleKeyAlgo, "a %T key, which module signatures cannot use", pub)
	}
	return nil
}

// matches reports whether c is the certificate a signer id names.
func matches(id modsig.SignerID, c *x509.Certificate) bool {
	if id.SKID != nil {
		return len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, id.SKID)
	}
	return id.Serial != nil && bytes.Equal(c.RawIssuer, id.RawIssuer) && c.SerialNumber.Cmp(id.Serial) == 0
}

// trustedFor returns the trusted certificate that vouches for c, a
// certificate the message carries: c itself (same issuer and serial, or
// subject key id), or one whose key signed it.
func trustedFor(c *x509.Certificate, certs []*x509.Certificate) *x509.Certificate {
	for _, t := range certs {
		if bytes.Equal(t.RawIssuer, c.RawIssuer) && t.SerialNumber.Cmp(c.SerialNumber) == 0 ||
			len(c.SubjectKeyId) > 0 && bytes.Equal(t.SubjectKeyId, c.SubjectKeyId) {
			if bytes.Equal(t.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo) {
				return t
			}
		}
	}
	for _, t := range certs {
		if bytes.Equal(t.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(t) == nil {
			return t
		}
	}
	return nil
}

func findSigner(id modsig.SignerID, certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if matches(id, c) {
			return c
		}
	}
	return nil
}

// Verify checks the signature appended to a module image as the kernel
// does, with the newest rules and every digest Go computes (Check with
// zero Rules). It returns the signature (its first signer, as modinfo
// shows it) and the trusted certificate that verified, or whose key's
// signature did not. Errors wrap
// ErrNotSigned, ErrUnknownSigner or ErrBadSignature, and a
// *modsig.RuleError naming the kernel's rule (which wraps
// modsig.ErrMalformed or modsig.ErrUnsupported where those apply).
func Verify(image []byte, certs []*x509.Certificate) (*modsig.Signature, *x509.Certificate, error) {
	res := Check(image, certs, Rules{})
	return res.Signature, res.Cert, res.Err
}
