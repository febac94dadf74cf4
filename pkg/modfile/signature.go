package modfile

import (
	"errors"
	"fmt"

	"github.com/gokmod/gokmod/pkg/modsig"
)

// sigTail is how much of the end of the image Signature hands to
// modsig.Split first: signatures are a few hundred bytes.
const sigTail = 16 << 10

// Signature parses the signature appended to the image, or returns nil
// when the module is unsigned. A malformed trailer or blob is an error
// wrapping modsig.ErrMalformed.
func (f *File) Signature() (*modsig.Signature, error) {
	tail := f.data
	if len(tail) > sigTail {
		tail = tail[len(tail)-sigTail:]
	}
	// Copy: the signature's byte slices must outlive a mapping.
	_, sig, err := modsig.Split(append([]byte(nil), tail...))
	if errors.Is(err, modsig.ErrMalformed) && len(tail) < len(f.data) {
		_, sig, err = modsig.Split(f.Image())
	}
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	return sig, nil
}

// SignedContent returns a copy of the part of the image a signature
// covers: the image without its last signature trailer (the whole image
// when unsigned), as the kernel and sign-file see it.
func (f *File) SignedContent() ([]byte, error) {
	content, _, err := modsig.Split(f.Image())
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	return content, nil
}
