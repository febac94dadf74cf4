package modfile

import (
	"errors"
	"fmt"

	"github.com/gokmod/gokmod/pkg/modsig"
)

// sigTail is how much of the end of the image Signature hands to
// modsig.Split first: signatures are a few hundred bytes.
const sigTail = tailSize

// Signature parses the signature appended to the image, or returns nil
// when the module is unsigned. A malformed trailer or blob is an error
// wrapping modsig.ErrMalformed.
func (f *File) Signature() (*modsig.Signature, error) {
	n := min(f.size, sigTail)
	tail, err := f.readAt(f.size-n, n)
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	_, sig, err := modsig.Split(tail)
	if errors.Is(err, modsig.ErrMalformed) && n < f.size {
		// The blob may be longer than the tail: try the whole image.
		var img []byte
		if img, err = f.load(); err == nil {
			_, sig, err = modsig.Split(img)
		}
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
	img, err := f.Image()
	if err != nil {
		return nil, err
	}
	content, _, err := modsig.Split(img)
	if err != nil {
		return nil, fmt.Errorf("read signature: %w", err)
	}
	return content, nil
}
