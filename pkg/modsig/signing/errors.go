package signing

import "errors"

var (
	// ErrCompressed reports a compressed module: the kernel checks the
	// signature of the decompressed image, so a module is signed before it
	// is compressed.
	ErrCompressed = errors.New("module is compressed; sign it before compressing")
	// ErrNotModule reports a file that is not an ELF module package
	// modfile can read; the modfile error is wrapped too.
	ErrNotModule = errors.New("not a kernel module")
	// ErrRawSignature reports a raw signature (sign-file -s) that is not
	// a PKCS#7 message or does not verify with the given certificate.
	ErrRawSignature = errors.New("unusable raw signature")
	// ErrOptions reports options that do not go together.
	ErrOptions = errors.New("invalid options")
	// ErrInterrupted reports a module that TreeContext did not start
	// because its context was done.
	ErrInterrupted = errors.New("not signed: interrupted")
)
