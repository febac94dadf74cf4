package cms

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"github.com/gokmod/gokmod/pkg/modsig"
)

// Verify checks the signature appended to a module image as the kernel
// does: the trailer must be the PKCS#7 form with no signer name or key
// id, the PKCS#7 signer must have no signed attributes and be one of
// certs (by issuer and serial number, or by subject key identifier), and
// the signature must verify with that certificate's key over the digest
// of the content. It returns the signature and the certificate that
// signed it. Errors wrap ErrNotSigned, modsig.ErrMalformed,
// ErrUnknownSigner or ErrBadSignature, or ErrKeyType when the signer's
// certificate holds a key that is neither RSA nor ECDSA.
func Verify(image []byte, certs []*x509.Certificate) (*modsig.Signature, *x509.Certificate, error) {
	content, sig, err := modsig.Split(image)
	if err != nil {
		return nil, nil, err
	}
	if sig == nil {
		return nil, nil, ErrNotSigned
	}
	if sig.IDType != modsig.PKCS7 {
		return sig, nil, fmt.Errorf("%w: signature id type is %v, the kernel wants PKCS#7", ErrBadSignature, sig.IDType)
	}
	if !sig.BareTrailer() {
		return sig, nil, fmt.Errorf("%w: struct module_signature has non-zero fields besides id_type and sig_len", ErrBadSignature)
	}
	si, _ := sig.SignerInfo()
	if si.SignedAttrs {
		return sig, nil, fmt.Errorf("%w: the PKCS#7 signer has signed attributes, which the kernel refuses in module signatures", ErrBadSignature)
	}
	cert := findSigner(si.ID, certs)
	if cert == nil {
		if si.ID.SKID != nil {
			return sig, nil, fmt.Errorf("%w: no certificate has subject key id %x", ErrUnknownSigner, si.ID.SKID)
		}
		return sig, nil, fmt.Errorf("%w: no certificate has issuer %q and serial %x", ErrUnknownSigner, sig.Signer, sig.KeyID)
	}
	if si.Hash == 0 || !si.Hash.Available() {
		return sig, cert, fmt.Errorf("%w: digest %s is not supported", ErrBadSignature, sig.HashAlgo)
	}
	h := si.Hash.New()
	h.Write(content)
	digest := h.Sum(nil)
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if sig.KeyAlgo != "rsa" {
			return sig, cert, fmt.Errorf("%w: %s signature for an RSA key", ErrBadSignature, sig.KeyAlgo)
		}
		if err := rsa.VerifyPKCS1v15(pub, si.Hash, digest, sig.Value); err != nil {
			return sig, cert, fmt.Errorf("%w: %v", ErrBadSignature, err)
		}
	case *ecdsa.PublicKey:
		if sig.KeyAlgo != "ecdsa" {
			return sig, cert, fmt.Errorf("%w: %s signature for an ECDSA key", ErrBadSignature, sig.KeyAlgo)
		}
		if !ecdsa.VerifyASN1(pub, digest, sig.Value) {
			return sig, cert, fmt.Errorf("%w: ECDSA verification error", ErrBadSignature)
		}
	default:
		return sig, cert, fmt.Errorf("%w: certificate key %T", ErrKeyType, pub)
	}
	return sig, cert, nil
}

func findSigner(id modsig.SignerID, certs []*x509.Certificate) *x509.Certificate {
	for _, c := range certs {
		if id.SKID != nil {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, id.SKID) {
				return c
			}
			continue
		}
		if bytes.Equal(c.RawIssuer, id.RawIssuer) && c.SerialNumber.Cmp(id.Serial) == 0 {
			return c
		}
	}
	return nil
}
