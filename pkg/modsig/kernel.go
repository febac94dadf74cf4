package modsig

import (
	"bytes"
	"crypto"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Class is the errno a kernel answers a refused module signature with, as
// the signature code returns it (before enforcement turns ENODATA, ENOPKG
// and ENOKEY into EKEYREJECTED).
type Class int

// The errno classes of kernel/module/signing.c and crypto/asymmetric_keys.
const (
	Accepted     Class = iota
	EBADMSG            // a malformed trailer or PKCS#7 message
	EINVAL             // a PKCS#7 field of a form the parser does not support
	ENODATA            // no signature ("unsigned module")
	ENOPKG             // unsupported crypto: digest, key algorithm, id type
	ENOKEY             // no signer's key is trusted ("module with unavailable key")
	EKEYREJECTED       // a trusted key's signature does not verify, or a use the module rules forbid
)

var classNames = [...]string{"accepted", "EBADMSG", "EINVAL", "ENODATA", "ENOPKG", "ENOKEY", "EKEYREJECTED"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Enforced is what a kernel that enforces signatures (module.sig_enforce=1,
// CONFIG_MODULE_SIG_FORCE) answers finit_module with: ENODATA, ENOPKG and
// ENOKEY become EKEYREJECTED ("Loading of ... is rejected"); the others
// are returned as they are, enforced or not.
func (c Class) Enforced() Class {
	switch c {
	case ENODATA, ENOPKG, ENOKEY:
		return EKEYREJECTED
	}
	return c
}

// RuleError is a signature that one of the kernel's rules refuses. Rule
// names the check (its place in the kernel is in the comment of each
// rule), Class the errno the kernel returns for it.
type RuleError struct {
	Rule   string
	Class  Class
	Detail string
	Err    error // the sentinel: ErrMalformed, ErrUnsupported, ErrNotSigned, ...
}

func (e *RuleError) Error() string {
	if e.Class.Enforced() != e.Class {
		return fmt.Sprintf("%s: %s (kernel: %v, %v under enforcement)", e.Rule, e.Detail, e.Class, e.Class.Enforced())
	}
	return fmt.Sprintf("%s: %s (kernel: %v)", e.Rule, e.Detail, e.Class)
}

func (e *RuleError) Unwrap() error { return e.Err }

func ruleErr(rule string, class Class, sentinel error, format string, a ...any) *RuleError {
	return &RuleError{Rule: rule, Class: class, Detail: fmt.Sprintf(format, a...), Err: sentinel}
}

// The kernel's rules, named as RuleError.Rule names them.
const (
	RuleUnsigned        = "signing.marker"               // module_sig_check: no "~Module signature appended~"
	RuleTrailerLength   = "module_signature.length"      // mod_verify_sig: no room for struct module_signature
	RuleSigLen          = "module_signature.sig_len"     // mod_check_sig: sig_len >= what precedes the trailer
	RuleIDType          = "module_signature.id_type"     // mod_check_sig: id_type is not PKEY_ID_PKCS7
	RuleParams          = "module_signature.params"      // mod_check_sig: algo, hash, signer_len, key_id_len or pad non-zero
	RuleASN1            = "pkcs7.asn1"                   // the ASN.1 decoder of pkcs7.asn1
	RuleContentType     = "pkcs7.content_type"           // pkcs7_check_content_type: not signedData
	RuleSignedDataVer   = "pkcs7.signed_data_version"    // pkcs7_note_signeddata_version: not 1 or 3
	RuleDataType        = "pkcs7.econtent_type"          // pkcs7_note_content: not data or msIndirectData
	RuleCertificate     = "pkcs7.certificate"            // pkcs7_extract_cert: an embedded certificate that does not parse
	RuleSignerInfoVer   = "pkcs7.signer_info_version"    // pkcs7_note_signerinfo_version: not 1 or 3, or not the SignedData's
	RuleDigestAlgo      = "pkcs7.digest_algo"            // pkcs7_sig_note_digest_algo: a digest the parser does not know
	RuleAuthAttr        = "pkcs7.authattr"               // pkcs7_authenticated_attr, pkcs7_sig_note_set_of_authattrs
	RulePkeyAlgo        = "pkcs7.pkey_algo"              // pkcs7_sig_note_pkey_algo: not rsaEncryption or ecdsa-with-*
	RuleAuthenticode    = "pkcs7.authenticode"           // pkcs7_note_signed_info: msIndirectData without authattrs
	RuleAuthAttrsMixed  = "pkcs7.authattrs_consistent"   // pkcs7_check_authattrs: some signers with, some without; or no signer
	RuleDetached        = "pkcs7.detached"               // verify_pkcs7_message_sig: content embedded, not detached
	RuleModuleDataType  = "pkcs7_verify.module_data"     // pkcs7_verify: eContentType is not data
	RuleModuleAuthAttrs = "pkcs7_verify.module_authattr" // pkcs7_verify: signed attributes in a module signature
	RuleDigestAvailable = "pkcs7_digest.available"       // pkcs7_digest: the kernel has no such hash
	RuleEmbeddedCert    = "pkcs7_verify.embedded_cert"   // pkcs7_verify_one: signature against the certificate the message carries
	RuleSignerID        = "pkcs7_trust.signer_id"        // find_asymmetric_key: an empty signer id
	RuleNoKey           = "pkcs7_trust.no_key"           // pkcs7_validate_trust: no signer's key is trusted
	RuleVerify          = "pkcs7_trust.verify"           // pkcs7_validate_trust_one: a trusted key's signature does not verify
	RuleKeyAlgo         = "public_key.pkey_algo"         // public_key_verify_signature: key and signature algorithms differ
)

// ErrUnsupported is the sentinel of the refusals for unsupported crypto
// (the kernel's ENOPKG): an id type, digest or signature algorithm the
// kernel does not verify.
var ErrUnsupported = errors.New("unsupported signature crypto")

// Message is a module's PKCS#7 signature as the kernel's parser reads it:
// every SignerInfo, in order.
type Message struct {
	Content       []byte                // what the signature covers
	Raw           []byte                // the PKCS#7 DER
	DataType      asn1.ObjectIdentifier // eContentType
	Detached      bool                  // no eContent
	Certs         [][]byte              // embedded certificates, DER
	Signers       []KernelSigner
	HaveAuthAttrs bool
}

// KernelSigner is one SignerInfo as the kernel's parser reads it.
type KernelSigner struct {
	Version int
	// ID is the signer id the kernel computes: from issuer and serial
	// for a version 1 SignerInfo, from the subject key id for version 3,
	// whatever form the sid has (a mismatch gives an empty or stale id).
	ID         SignerID
	EmptyID    bool
	Hash       crypto.Hash // 0 when Go has none for the digest
	HashName   string      // the kernel's name: "sha256", "sha3-256", "sm3", ...
	KeyAlgo    string      // "rsa" or "ecdsa"
	AuthAttrs  []byte      // DER of the signed attributes as a SET, nil if none
	MsgDigest  []byte      // the messageDigest attribute
	Value      []byte
	rawSerial  []byte
	rawIssuer  []byte
	rawSKID    []byte
	skidForm   bool
	hasSerial  bool
	sigAlgoOID asn1.ObjectIdentifier
}

// KernelRelease is the part of the kernel's release that changes its
// parsing rules.
type KernelRelease struct{ Major, Minor int }

// Newest is the newest rules this package knows (Linux 6.7 and later).
var Newest = KernelRelease{6, 7}

// ParseRelease reads "6.12.117+deb12-amd64" and the like.
func ParseRelease(s string) (KernelRelease, error) {
	var r KernelRelease
	if _, err := fmt.Sscanf(s, "%d.%d", &r.Major, &r.Minor); err != nil {
		return r, fmt.Errorf("kernel release %q: want MAJOR.MINOR...", s)
	}
	return r, nil
}

func (r KernelRelease) atLeast(major, minor int) bool {
	return r.Major > major || r.Major == major && r.Minor >= minor
}

// kernelDigests are the digests pkcs7_sig_note_digest_algo knows, from
// the release that added them.
var kernelDigests = []struct {
	oid   asn1.ObjectIdentifier
	name  string
	hash  crypto.Hash
	since KernelRelease
}{
	{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}, "sha1", crypto.SHA1, KernelRelease{4, 3}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}, "sha256", crypto.SHA256, KernelRelease{4, 3}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, "sha384", crypto.SHA384, KernelRelease{4, 3}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}, "sha512", crypto.SHA512, KernelRelease{4, 3}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}, "sha224", crypto.SHA224, KernelRelease{4, 3}},
	{asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}, "sm3", 0, KernelRelease{5, 10}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 8}, "sha3-256", crypto.SHA3_256, KernelRelease{6, 7}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 9}, "sha3-384", crypto.SHA3_384, KernelRelease{6, 7}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 10}, "sha3-512", crypto.SHA3_512, KernelRelease{6, 7}},
}

// kernelSigAlgos are the SignerInfo signature algorithms that
// pkcs7_sig_note_pkey_algo accepts for RSA and ECDSA keys: rsaEncryption
// and the ecdsa-with-* OIDs; sha256WithRSAEncryption, RSASSA-PSS and
// id-ecPublicKey are not among them.
var kernelSigAlgos = []struct {
	oid   asn1.ObjectIdentifier
	algo  string
	since KernelRelease
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, "rsa", KernelRelease{4, 3}},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}, "ecdsa", KernelRelease{5, 13}},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}, "ecdsa", KernelRelease{5, 13}},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, "ecdsa", KernelRelease{5, 13}},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, "ecdsa", KernelRelease{5, 13}},
	{asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, "ecdsa", KernelRelease{5, 13}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 10}, "ecdsa", KernelRelease{6, 7}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 11}, "ecdsa", KernelRelease{6, 7}},
	{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 12}, "ecdsa", KernelRelease{6, 7}},
}

var (
	oidMsIndirectData = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}
	oidAttrContent    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrDigest     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSignTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
)

// CheckModule applies the kernel's checks of a module's appended signature
// that need no key (kernel/module/signing.c module_sig_check and
// mod_verify_sig, kernel/module_signature.c mod_check_sig, and the PKCS#7
// parser of crypto/asymmetric_keys, pkcs7_parser.c, with the module rules
// of pkcs7_verify), for the parsing rules of release rel. Every SignerInfo
// is parsed, in order; the first rule that fails, in the order the kernel
// applies them, is returned as a *RuleError. A Message that passes still
// needs its digests, keys and signature values checked (cms.Check).
func CheckModule(image []byte, rel KernelRelease) (msg *Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			msg, err = nil, ruleErr(RuleASN1, EBADMSG, ErrMalformed, "%v", r)
		}
	}()
	if len(image) <= len(Magic) || !bytes.Equal(image[len(image)-len(Magic):], []byte(Magic)) {
		return nil, ruleErr(RuleUnsigned, ENODATA, ErrNotSignedFormat, "no %q marker at the end", Magic[:len(Magic)-1])
	}
	n := len(image) - len(Magic)
	if n <= trailerLen {
		return nil, ruleErr(RuleTrailerLength, EBADMSG, ErrMalformed, "%d bytes before the marker, want more than %d", n, trailerLen)
	}
	t := image[n-trailerLen : n]
	sigLen := int64(binary.BigEndian.Uint32(t[8:]))
	if sigLen >= int64(n-trailerLen) {
		return nil, ruleErr(RuleSigLen, EBADMSG, ErrMalformed, "sig_len %d, but only %d bytes precede the trailer", sigLen, n-trailerLen)
	}
	if IDType(t[2]) != PKCS7 {
		return nil, ruleErr(RuleIDType, ENOPKG, ErrUnsupported, "id_type %v, not PKCS#7", IDType(t[2]))
	}
	if t[0] != 0 || t[1] != 0 || t[3] != 0 || t[4] != 0 || t[5] != 0 || t[6] != 0 || t[7] != 0 {
		return nil, ruleErr(RuleParams, EBADMSG, ErrMalformed, "algo %d, hash %d, signer_len %d, key_id_len %d, pad % x: all must be 0",
			t[0], t[1], t[3], t[4], t[5:8])
	}
	start := n - trailerLen - int(sigLen)
	msg, err = parseKernelPKCS7(image[start:n-trailerLen], rel)
	if err != nil {
		return nil, err
	}
	msg.Content = image[:start]
	// verify_pkcs7_message_sig, then pkcs7_verify's module rules.
	if !msg.Detached {
		return nil, ruleErr(RuleDetached, EBADMSG, ErrMalformed, "the PKCS#7 message embeds its content; a module signature must be detached")
	}
	if !msg.DataType.Equal(oidData) {
		return nil, ruleErr(RuleModuleDataType, EKEYREJECTED, ErrUnsupported, "eContentType %v, a module signature must be over data", msg.DataType)
	}
	if msg.HaveAuthAttrs {
		return nil, ruleErr(RuleModuleAuthAttrs, EKEYREJECTED, ErrUnsupported, "signed attributes, which a module signature must not have")
	}
	return msg, nil
}

// ErrNotSignedFormat is the sentinel of RuleUnsigned: the image has no
// signature at all.
var ErrNotSignedFormat = errors.New("module is not signed")

// kd walks DER the way the kernel's ASN.1 decoder reports failures: as
// EBADMSG under RuleASN1.
type kd struct{ d der }

func (k *kd) next(what string, class, tag int, compound bool) (asn1.RawValue, error) {
	v, err := k.d.next(what, class, tag, compound)
	if err != nil {
		return v, ruleErr(RuleASN1, EBADMSG, ErrMalformed, "%s", strings.TrimPrefix(err.Error(), ErrMalformed.Error()+": "))
	}
	return v, nil
}

func (k *kd) oid(what string) (asn1.ObjectIdentifier, error) {
	v, err := k.next(what, asn1.ClassUniversal, asn1.TagOID, false)
	if err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(v.FullBytes, &oid); err != nil {
		return nil, ruleErr(RuleASN1, EBADMSG, ErrMalformed, "%s: %v", what, err)
	}
	return oid, nil
}

// algorithm reads an AlgorithmIdentifier (parameters ignored).
func (k *kd) algorithm(what string) (asn1.ObjectIdentifier, error) {
	v, err := k.next(what, asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	in := kd{v.Bytes}
	return in.oid(what)
}

func (k *kd) peek(class, tag int) bool { return k.d.peek(class, tag) }
func (k *kd) empty() bool              { return len(k.d) == 0 }

// nonEmpty refuses an empty SET OF or SEQUENCE OF: the kernel's ASN.1
// decoder wants the first element of each (EBADMSG).
func nonEmpty(what string, v asn1.RawValue) error {
	if len(v.Bytes) == 0 {
		return ruleErr(RuleASN1, EBADMSG, ErrMalformed, "%s: an empty SET OF, which the kernel's decoder does not take", what)
	}
	return nil
}

// smallInt reads an INTEGER the way the kernel's version handlers do: a
// one-byte value, else -1.
func smallInt(v asn1.RawValue) int {
	if len(v.Bytes) != 1 {
		return -1
	}
	return int(v.Bytes[0])
}

// parseKernelPKCS7 is pkcs7_parse_message with its actions, in document
// order.
func parseKernelPKCS7(b []byte, rel KernelRelease) (*Message, error) {
	msg := &Message{Raw: b, Detached: true}
	top := kd{b}
	ci, err := top.next("content info", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	d := kd{ci.Bytes}
	typ, err := d.oid("content type")
	if err != nil {
		return nil, err
	}
	if !typ.Equal(oidSignedData) {
		return nil, ruleErr(RuleContentType, EINVAL, ErrMalformed, "content type %v, not signedData", typ)
	}
	if d.empty() {
		return nil, ruleErr(RuleAuthAttrsMixed, EINVAL, ErrMalformed, "no SignedData, so no signer")
	}
	explicit, err := d.next("content", asn1.ClassContextSpecific, 0, true)
	if err != nil {
		return nil, err
	}
	d = kd{explicit.Bytes}
	sd, err := d.next("signed data", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	d = kd{sd.Bytes}
	v, err := d.next("signed data version", asn1.ClassUniversal, asn1.TagInteger, false)
	if err != nil {
		return nil, err
	}
	sdVersion := smallInt(v)
	if sdVersion != 1 && sdVersion != 3 {
		return nil, ruleErr(RuleSignedDataVer, EINVAL, ErrMalformed, "SignedData version %d, not 1 or 3", sdVersion)
	}
	var algs asn1.RawValue
	if d.peek(asn1.ClassUniversal, asn1.TagSet) {
		algs, err = d.next("digest algorithms", asn1.ClassUniversal, asn1.TagSet, true)
	} else {
		algs, err = d.next("digest algorithms", asn1.ClassUniversal, asn1.TagSequence, true)
	}
	if err != nil {
		return nil, err
	}
	if err := nonEmpty("digest algorithms", algs); err != nil {
		return nil, err
	}
	eci, err := d.next("encapsulated content info", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	e := kd{eci.Bytes}
	if msg.DataType, err = e.oid("eContentType"); err != nil {
		return nil, err
	}
	if !e.empty() {
		if _, err := e.next("eContent", asn1.ClassContextSpecific, 0, true); err != nil {
			return nil, err
		}
		msg.Detached = false
	}
	if !msg.DataType.Equal(oidData) && !msg.DataType.Equal(oidMsIndirectData) {
		return nil, ruleErr(RuleDataType, EINVAL, ErrMalformed, "eContentType %v, not data", msg.DataType)
	}
	for _, tag := range []int{0, 2} { // certSet [0] IMPLICIT, certSequence [2] IMPLICIT
		if !d.peek(asn1.ClassContextSpecific, tag) {
			continue
		}
		certs, err := d.next("certificates", asn1.ClassContextSpecific, tag, true)
		if err != nil {
			return nil, err
		}
		if err := nonEmpty("certificates", certs); err != nil {
			return nil, err
		}
		c := kd{certs.Bytes}
		for !c.empty() {
			cert, err := c.next("certificate", asn1.ClassUniversal, asn1.TagSequence, true)
			if err != nil {
				return nil, ruleErr(RuleCertificate, EBADMSG, ErrMalformed, "%v", err)
			}
			msg.Certs = append(msg.Certs, cert.FullBytes)
		}
		break
	}
	for _, tag := range []int{1, 3} {
		if d.peek(asn1.ClassContextSpecific, tag) {
			crls, err := d.next("crls", asn1.ClassContextSpecific, tag, true)
			if err != nil {
				return nil, err
			}
			if err := nonEmpty("crls", crls); err != nil {
				return nil, err
			}
			break
		}
	}
	var set asn1.RawValue
	if d.peek(asn1.ClassUniversal, asn1.TagSequence) {
		set, err = d.next("signer infos", asn1.ClassUniversal, asn1.TagSequence, true)
	} else {
		set, err = d.next("signer infos", asn1.ClassUniversal, asn1.TagSet, true)
	}
	if err != nil {
		return nil, err
	}
	if err := nonEmpty("signer infos", set); err != nil {
		return nil, err
	}
	s := kd{set.Bytes}
	var prev *KernelSigner // the parse context keeps the last sid fields
	for i := 1; !s.empty(); i++ {
		si, err := s.next("signer info", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return nil, err
		}
		ks, err := parseKernelSigner(si.Bytes, sdVersion, msg.DataType, prev, rel)
		if err != nil {
			if re, ok := err.(*RuleError); ok {
				re.Detail = fmt.Sprintf("signer %d: %s", i, re.Detail)
			}
			return nil, err
		}
		msg.Signers = append(msg.Signers, *ks)
		prev = ks
	}
	if !d.empty() {
		return nil, ruleErr(RuleASN1, EBADMSG, ErrMalformed, "data after the signer infos")
	}
	// pkcs7_check_authattrs
	if len(msg.Signers) == 0 {
		return nil, ruleErr(RuleAuthAttrsMixed, EINVAL, ErrMalformed, "no SignerInfo")
	}
	msg.HaveAuthAttrs = msg.Signers[0].AuthAttrs != nil
	for i, ks := range msg.Signers[1:] {
		if (ks.AuthAttrs != nil) != msg.HaveAuthAttrs {
			return nil, ruleErr(RuleAuthAttrsMixed, EINVAL, ErrMalformed, "signer %d has signed attributes and signer %d has none, or the other way round", 1, i+2)
		}
	}
	return msg, nil
}

func parseKernelSigner(b []byte, sdVersion int, dataType asn1.ObjectIdentifier, prev *KernelSigner, rel KernelRelease) (*KernelSigner, error) {
	ks := &KernelSigner{}
	if prev != nil {
		ks.rawSerial, ks.rawIssuer, ks.rawSKID, ks.hasSerial = prev.rawSerial, prev.rawIssuer, prev.rawSKID, prev.hasSerial
	}
	d := kd{b}
	v, err := d.next("signer info version", asn1.ClassUniversal, asn1.TagInteger, false)
	if err != nil {
		return nil, err
	}
	ks.Version = smallInt(v)
	switch ks.Version {
	case 1:
		if sdVersion != 1 {
			return nil, ruleErr(RuleSignerInfoVer, EBADMSG, ErrMalformed, "SignerInfo version 1 in a version %d SignedData", sdVersion)
		}
	case 3:
		if sdVersion == 1 {
			return nil, ruleErr(RuleSignerInfoVer, EBADMSG, ErrMalformed, "SignerInfo version 3 in a version 1 SignedData")
		}
		ks.skidForm = true
	default:
		return nil, ruleErr(RuleSignerInfoVer, EINVAL, ErrMalformed, "SignerInfo version %d, not 1 or 3", ks.Version)
	}
	if d.peek(asn1.ClassContextSpecific, 0) {
		skid, err := d.next("subject key identifier", asn1.ClassContextSpecific, 0, false)
		if err != nil {
			return nil, err
		}
		ks.rawSKID = skid.Bytes
	} else {
		ias, err := d.next("issuer and serial number", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return nil, err
		}
		in := kd{ias.Bytes}
		issuer, err := in.next("issuer", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return nil, err
		}
		serial, err := in.next("serial number", asn1.ClassUniversal, asn1.TagInteger, false)
		if err != nil {
			return nil, err
		}
		ks.rawIssuer, ks.rawSerial, ks.hasSerial = issuer.FullBytes, serial.Bytes, true
	}
	oid, err := d.algorithm("digest algorithm")
	if err != nil {
		return nil, err
	}
	found := false
	for _, kdg := range kernelDigests {
		if kdg.oid.Equal(oid) && rel.atLeast(kdg.since.Major, kdg.since.Minor) {
			ks.Hash, ks.HashName, found = kdg.hash, kdg.name, true
		}
	}
	if !found {
		name, _ := digestByOID(oid)
		return nil, ruleErr(RuleDigestAlgo, ENOPKG, ErrUnsupported, "digest %s is not one the kernel's PKCS#7 parser knows", name.name)
	}
	if d.peek(asn1.ClassContextSpecific, 0) || d.peek(asn1.ClassContextSpecific, 2) {
		if err := ks.parseAuthAttrs(&d, dataType); err != nil {
			return nil, err
		}
	}
	if ks.sigAlgoOID, err = d.algorithm("digest encryption algorithm"); err != nil {
		return nil, err
	}
	for _, a := range kernelSigAlgos {
		if a.oid.Equal(ks.sigAlgoOID) && rel.atLeast(a.since.Major, a.since.Minor) {
			ks.KeyAlgo = a.algo
		}
	}
	if ks.KeyAlgo == "" {
		return nil, ruleErr(RulePkeyAlgo, ENOPKG, ErrUnsupported, "signature algorithm %v (%s); the kernel takes rsaEncryption or ecdsa-with-*", ks.sigAlgoOID, keyAlgoName(ks.sigAlgoOID))
	}
	value, err := d.next("encrypted digest", asn1.ClassUniversal, asn1.TagOctetString, false)
	if err != nil {
		return nil, err
	}
	ks.Value = value.Bytes
	for _, tag := range []int{1, 3} {
		if d.peek(asn1.ClassContextSpecific, tag) {
			ua, err := d.next("unauthenticated attributes", asn1.ClassContextSpecific, tag, true)
			if err != nil {
				return nil, err
			}
			if err := nonEmpty("unauthenticated attributes", ua); err != nil {
				return nil, err
			}
			break
		}
	}
	if !d.empty() {
		return nil, ruleErr(RuleASN1, EBADMSG, ErrMalformed, "data after the signer info's fields")
	}
	// pkcs7_note_signed_info
	if dataType.Equal(oidMsIndirectData) && ks.AuthAttrs == nil {
		return nil, ruleErr(RuleAuthenticode, EBADMSG, ErrMalformed, "Authenticode (SpcIndirectData) requires signed attributes")
	}
	if ks.skidForm {
		ks.ID = SignerID{SKID: ks.rawSKID}
		ks.EmptyID = len(ks.rawSKID) == 0
	} else {
		ks.ID = SignerID{RawIssuer: ks.rawIssuer}
		if ks.hasSerial {
			ks.ID.Serial = bigFromDER(ks.rawSerial)
		}
		ks.EmptyID = len(ks.rawIssuer) == 0 && len(ks.rawSerial) == 0
	}
	return ks, nil
}

// parseAuthAttrs reads the signed attributes as pkcs7_authenticated_attr
// and pkcs7_sig_note_set_of_authattrs check them: contentType and
// messageDigest present, none repeated, the content type the message's.
func (ks *KernelSigner) parseAuthAttrs(d *kd, dataType asn1.ObjectIdentifier) error {
	var set asn1.RawValue
	var err error
	if d.peek(asn1.ClassContextSpecific, 0) {
		set, err = d.next("signed attributes", asn1.ClassContextSpecific, 0, true)
	} else {
		set, err = d.next("signed attributes", asn1.ClassContextSpecific, 2, true)
	}
	if err != nil {
		return err
	}
	if err := nonEmpty("signed attributes", set); err != nil {
		return err
	}
	ks.AuthAttrs = append([]byte{0x31}, set.FullBytes[1:]...)
	seen := map[string]bool{}
	a := kd{set.Bytes}
	if set.Tag == 2 { // [2] EXPLICIT SEQUENCE OF
		seq, err := a.next("signed attributes", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return err
		}
		a = kd{seq.Bytes}
	}
	for !a.empty() {
		attr, err := a.next("attribute", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return err
		}
		in := kd{attr.Bytes}
		typ, err := in.oid("attribute type")
		if err != nil {
			return err
		}
		values, err := in.next("attribute values", asn1.ClassUniversal, asn1.TagSet, true)
		if err != nil {
			return err
		}
		key := typ.String()
		for _, known := range []asn1.ObjectIdentifier{oidAttrContent, oidAttrDigest, oidAttrSignTime} {
			if typ.Equal(known) {
				if seen[key] {
					return ruleErr(RuleAuthAttr, EBADMSG, ErrMalformed, "signed attribute %v repeated", typ)
				}
				seen[key] = true
			}
		}
		val := kd{values.Bytes}
		switch {
		case typ.Equal(oidAttrContent):
			ct, err := val.oid("content type attribute")
			if err != nil {
				return err
			}
			if !ct.Equal(dataType) {
				return ruleErr(RuleAuthAttr, EBADMSG, ErrMalformed, "content type attribute %v differs from eContentType %v", ct, dataType)
			}
		case typ.Equal(oidAttrDigest):
			md, err := val.next("message digest attribute", asn1.ClassUniversal, asn1.TagOctetString, false)
			if err != nil {
				return ruleErr(RuleAuthAttr, EBADMSG, ErrMalformed, "message digest attribute is not an OCTET STRING")
			}
			ks.MsgDigest = md.Bytes
		}
	}
	if !seen[oidAttrContent.String()] || !seen[oidAttrDigest.String()] {
		return ruleErr(RuleAuthAttr, EBADMSG, ErrMalformed, "signed attributes without contentType or messageDigest")
	}
	return nil
}

// bigFromDER is the value of an INTEGER's content octets (two's
// complement, big endian).
func bigFromDER(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	return n
}
