package cms

import "errors"

var (
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
