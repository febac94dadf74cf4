package compression

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// Errors returned by this package.
var (
	// ErrTooLarge means the decompressed data is bigger than the caller's limit.
	ErrTooLarge = errors.New("decompressed size exceeds limit")
	// ErrUnknownFormat means NewReader or NewWriter was asked for a format it does not know.
	ErrUnknownFormat = errors.New("unknown compression format")
	// ErrCorrupt means the compressed stream could not be decoded.
	ErrCorrupt = errors.New("corrupt compressed data")
)

// Format is a compression format.
type Format int

// The formats kernel modules are compressed with. None is plain data.
const (
	None Format = iota
	Gzip
	XZ
	Zstd
	LZ4
)

// String returns the name kmod and the kernel use for f ("" for None).
func (f Format) String() string {
	switch f {
	case None:
		return ""
	case Gzip:
		return "gzip"
	case XZ:
		return "xz"
	case Zstd:
		return "zstd"
	case LZ4:
		return "lz4"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

var magics = []struct {
	f     Format
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b}},
	{XZ, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
	{LZ4, []byte{0x04, 0x22, 0x4d, 0x18}},
}

// HeadSize is how many leading bytes Detect needs to recognise every format.
const HeadSize = 6

// Detect returns the format whose magic bytes head starts with, or None.
func Detect(head []byte) Format {
	for _, m := range magics {
		if bytes.HasPrefix(head, m.magic) {
			return m.f
		}
	}
	return None
}

// NewReader returns a reader that decompresses r as format f. For None it
// returns r itself (with a no-op Close).
func NewReader(f Format, r io.Reader) (io.ReadCloser, error) {
	switch f {
	case None:
		return io.NopCloser(r), nil
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip header: %w: %w", ErrCorrupt, err)
		}
		return zr, nil
	case XZ:
		zr, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("xz header: %w: %w", ErrCorrupt, err)
		}
		return io.NopCloser(zr), nil
	case Zstd:
		// One goroutine and a bounded window: modules are small and the
		// input is untrusted.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(1<<27), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd header: %w: %w", ErrCorrupt, err)
		}
		return zr.IOReadCloser(), nil
	case LZ4:
		return io.NopCloser(lz4.NewReader(r)), nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownFormat, int(f))
}

// Decompress reads all of r, detects its format by magic bytes and returns
// the decompressed data with the format found. Plain data is returned as
// read. Past limit bytes of output it stops with ErrTooLarge.
func Decompress(r io.Reader, limit int64) ([]byte, Format, error) {
	// The decoders read in small pieces: buffer, or each read of an
	// *os.File or io.SectionReader is a system call.
	br := bufio.NewReaderSize(r, 64<<10)
	// Peek, not read, the magic: the decoder then reads br itself, an
	// io.ByteReader, which xz's range decoder reads a byte at a time
	// (through a MultiReader each byte was a chain of calls: xz took
	// 30% longer).
	head, err := br.Peek(HeadSize)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, None, fmt.Errorf("read header: %w", err)
	}
	f := Detect(head)
	zr, err := NewReader(f, br)
	if err != nil {
		return nil, f, err
	}
	defer zr.Close()
	var buf bytes.Buffer
	m, err := io.Copy(&buf, io.LimitReader(zr, limit+1))
	if err != nil {
		if f == None {
			return nil, f, fmt.Errorf("read: %w", err)
		}
		return nil, f, fmt.Errorf("%s: %w: %w", f, ErrCorrupt, err)
	}
	if m > limit {
		return nil, f, fmt.Errorf("%s: %w (%d bytes)", nameOr(f), ErrTooLarge, limit)
	}
	return buf.Bytes(), f, nil
}

func nameOr(f Format) string {
	if f == None {
		return "plain"
	}
	return f.String()
}
