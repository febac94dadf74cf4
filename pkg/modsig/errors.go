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
)
