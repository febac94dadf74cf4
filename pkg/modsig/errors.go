package modsig

import "errors"

var (
	// ErrMalformed reports a signature trailer or blob that cannot be
	// decoded: a trailer whose lengths do not fit the image, an unknown
	// algorithm number, or a PKCS#7 message that is not a SignedData with a
	// signer.
	ErrMalformed = errors.New("malformed module signature")

	// ErrUnknownHash reports a digest that SignedData does not support.
	ErrUnknownHash = errors.New("unknown hash algorithm")
	// ErrUnknownKeyAlgo reports a public-key algorithm that SignedData
	// does not support.
	ErrUnknownKeyAlgo = errors.New("unknown key algorithm")
	// ErrKeyMismatch reports a private key that is not the certificate's.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrKeyType reports a key the kernel cannot verify module signatures with.
	ErrKeyType = errors.New("unsupported key type")
	// ErrNoSKID reports signing by subject key id with a certificate that has none.
	ErrNoSKID = errors.New("certificate has no subject key identifier")
	// ErrNoKey reports a key or certificate file with nothing usable in it.
	ErrNoKey = errors.New("no key or certificate found")

	// ErrNotSigned reports a module without an appended signature.
	ErrNotSigned = errors.New("module is not signed")
	// ErrBadSignature reports a signature that does not verify: the
	// content was changed, the signature bytes were changed, or the
	// signature is not of a form the kernel accepts.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownSigner reports a signature by a key none of the given
	// certificates identifies.
	ErrUnknownSigner = errors.New("unknown signer")
)
