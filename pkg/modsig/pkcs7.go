package modsig

import (
	"bytes"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// signerInfo is the part of a PKCS#7 SignerInfo that Verify needs.
type signerInfo struct {
	rawIssuer   []byte   // DER of the issuer Name (issuer+serial signers)
	serial      *big.Int // (issuer+serial signers)
	skid        []byte   // subject key identifier (SKID signers)
	digest      digestAlgo
	sigAlgo     asn1.ObjectIdentifier
	signedAttrs bool // the kernel refuses module signatures with signed attributes
	value       []byte
}

// der walks DER elements one at a time.
type der []byte

// next reads one element. It fails when the element is not tagged
// class/tag; compound says whether it must be constructed.
func (d *der) next(what string, class, tag int, compound bool) (asn1.RawValue, error) {
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(*d, &v)
	if err != nil {
		return v, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	if v.Class != class || v.Tag != tag || v.IsCompound != compound {
		return v, fmt.Errorf("%w: %s: unexpected tag class %d number %d", ErrMalformed, what, v.Class, v.Tag)
	}
	*d = rest
	return v, nil
}

// peek reports whether the next element has tag class/tag.
func (d der) peek(class, tag int) bool {
	var v asn1.RawValue
	_, err := asn1.Unmarshal(d, &v)
	return err == nil && v.Class == class && v.Tag == tag
}

func (d *der) oid(what string) (asn1.ObjectIdentifier, error) {
	v, err := d.next(what, asn1.ClassUniversal, asn1.TagOID, false)
	if err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(v.FullBytes, &oid); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	return oid, nil
}

// algorithm reads an AlgorithmIdentifier and returns its OID.
func (d *der) algorithm(what string) (asn1.ObjectIdentifier, error) {
	v, err := d.next(what, asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	in := der(v.Bytes)
	return in.oid(what)
}

// parsePKCS7 decodes a PKCS#7 ContentInfo holding a SignedData and
// describes its first SignerInfo, as kmod does.
func parsePKCS7(b []byte) (sig *Signature, err error) {
	defer func() {
		if r := recover(); r != nil {
			sig, err = nil, fmt.Errorf("%w: pkcs#7: %v", ErrMalformed, r)
		}
	}()
	d := der(b)
	ci, err := d.next("pkcs#7 content info", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	d = ci.Bytes
	typ, err := d.oid("pkcs#7 content type")
	if err != nil {
		return nil, err
	}
	if !typ.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: pkcs#7 content type %v is not signedData", ErrMalformed, typ)
	}
	explicit, err := d.next("pkcs#7 content", asn1.ClassContextSpecific, 0, true)
	if err != nil {
		return nil, err
	}
	d = explicit.Bytes
	sd, err := d.next("signed data", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	d = sd.Bytes
	if _, err := d.next("signed data version", asn1.ClassUniversal, asn1.TagInteger, false); err != nil {
		return nil, err
	}
	if _, err := d.next("digest algorithms", asn1.ClassUniversal, asn1.TagSet, true); err != nil {
		return nil, err
	}
	if _, err := d.next("encapsulated content info", asn1.ClassUniversal, asn1.TagSequence, true); err != nil {
		return nil, err
	}
	if d.peek(asn1.ClassContextSpecific, 0) {
		if _, err := d.next("certificates", asn1.ClassContextSpecific, 0, true); err != nil {
			return nil, err
		}
	}
	if d.peek(asn1.ClassContextSpecific, 1) {
		if _, err := d.next("crls", asn1.ClassContextSpecific, 1, true); err != nil {
			return nil, err
		}
	}
	set, err := d.next("signer infos", asn1.ClassUniversal, asn1.TagSet, true)
	if err != nil {
		return nil, err
	}
	d = set.Bytes
	if len(d) == 0 {
		return nil, fmt.Errorf("%w: pkcs#7 message has no signer", ErrMalformed)
	}
	first, err := d.next("signer info", asn1.ClassUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	si, err := parseSignerInfo(first.Bytes)
	if err != nil {
		return nil, err
	}
	sig = &Signature{
		IDType:   PKCS7,
		HashAlgo: si.digest.name,
		KeyAlgo:  keyAlgoName(si.sigAlgo),
		Value:    si.value,
		Raw:      b,
		signer:   si,
	}
	if si.skid != nil {
		sig.BySKID = true
		sig.KeyID = si.skid
	} else {
		sig.KeyID = serialBytes(si.serial) // BN_bn2bin: magnitude, minimal length
		sig.Signer, err = signerName(si.rawIssuer)
		if err != nil {
			return nil, err
		}
	}
	return sig, nil
}

func parseSignerInfo(b der) (*signerInfo, error) {
	si := new(signerInfo)
	if _, err := b.next("signer info version", asn1.ClassUniversal, asn1.TagInteger, false); err != nil {
		return nil, err
	}
	if b.peek(asn1.ClassContextSpecific, 0) {
		v, err := b.next("subject key identifier", asn1.ClassContextSpecific, 0, false)
		if err != nil {
			return nil, err
		}
		si.skid = v.Bytes
	} else {
		ias, err := b.next("issuer and serial number", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return nil, err
		}
		in := der(ias.Bytes)
		issuer, err := in.next("issuer", asn1.ClassUniversal, asn1.TagSequence, true)
		if err != nil {
			return nil, err
		}
		si.rawIssuer = issuer.FullBytes
		serial, err := in.next("serial number", asn1.ClassUniversal, asn1.TagInteger, false)
		if err != nil {
			return nil, err
		}
		si.serial = new(big.Int)
		if _, err := asn1.Unmarshal(serial.FullBytes, &si.serial); err != nil {
			return nil, fmt.Errorf("%w: serial number: %v", ErrMalformed, err)
		}
	}
	oid, err := b.algorithm("digest algorithm")
	if err != nil {
		return nil, err
	}
	si.digest, _ = digestByOID(oid)
	if b.peek(asn1.ClassContextSpecific, 0) {
		if _, err := b.next("signed attributes", asn1.ClassContextSpecific, 0, true); err != nil {
			return nil, err
		}
		si.signedAttrs = true
	}
	if si.sigAlgo, err = b.algorithm("signature algorithm"); err != nil {
		return nil, err
	}
	v, err := b.next("signature", asn1.ClassUniversal, asn1.TagOctetString, false)
	if err != nil {
		return nil, err
	}
	si.value = v.Bytes
	return si, nil
}

// signerName picks the signer from an issuer Name as kmod does: the value
// of the first commonName attribute, or of the last attribute if there is
// no commonName, up to its first NUL byte.
func signerName(rawName []byte) (string, error) {
	var name []asn1.RawValue // RDNs: SET OF AttributeTypeAndValue
	if _, err := asn1.Unmarshal(rawName, &name); err != nil {
		return "", fmt.Errorf("%w: issuer: %v", ErrMalformed, err)
	}
	var value []byte
	found := false
	for _, rdn := range name {
		d := der(rdn.Bytes)
		for len(d) > 0 {
			atv, err := d.next("issuer attribute", asn1.ClassUniversal, asn1.TagSequence, true)
			if err != nil {
				return "", err
			}
			in := der(atv.Bytes)
			oid, err := in.oid("issuer attribute type")
			if err != nil {
				return "", err
			}
			var v asn1.RawValue
			if _, err := asn1.Unmarshal(in, &v); err != nil {
				return "", fmt.Errorf("%w: issuer attribute value: %v", ErrMalformed, err)
			}
			value, found = v.Bytes, true
			if oid.Equal(oidCommonName) {
				return cString(value), nil
			}
		}
	}
	if !found {
		return "", nil
	}
	return cString(value), nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
