package compression

import (
	"bytes"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// NewWriter returns a writer that compresses what is written to it into w
// as format f, the way the kernel's build compresses modules where the
// formats differ from the libraries' defaults: xz gets a CRC32 check, the
// only one the kernel's xz decompressor accepts (a CRC64 .ko.xz fails to
// load in-kernel with EINVAL). For None it writes through unchanged. Close
// flushes the compressed stream; it does not close w.
func NewWriter(f Format, w io.Writer) (io.WriteCloser, error) {
	switch f {
	case None:
		return nopWriteCloser{w}, nil
	case Gzip:
		return gzip.NewWriter(w), nil
	case XZ:
		return xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(w)
	case Zstd:
		return zstd.NewWriter(w)
	case LZ4:
		return lz4.NewWriter(w), nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownFormat, int(f))
}

// Compress returns data compressed as format f (see NewWriter).
func Compress(f Format, data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := NewWriter(f, &buf)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("compress %s: %w", nameOr(f), err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("compress %s: %w", nameOr(f), err)
	}
	return buf.Bytes(), nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
