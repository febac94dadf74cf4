package compression

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/gokmod/gokmod/pkg/compression/internal/xzdec"
)

// Errors returned by this package.
var (
	// ErrTooLarge means the (decompressed) module image is bigger than the
	// caller's limit.
	ErrTooLarge = errors.New("image size exceeds the limit")
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

// DefaultLimit is the default cap on a decompressed module: the largest
// module in Debian's 6.1 and 6.12 trees (amdgpu.ko of 6.12.117, 29,305,335
// bytes; 19,462,545 in 6.1.0-56) with a fourfold margin. Tools that
// decompress take a flag to raise it.
const DefaultLimit = 128 << 20

// The history a zstd or xz decoder may keep (zstd window, xz dictionary)
// is the limit, but at least minWindow (xz's default preset, zstd -19) and
// at most maxWindow (zstd --ultra -22; xz -9 uses 64 MiB).
const (
	minWindow = 8 << 20
	maxWindow = 128 << 20
)

// window is the largest decoder history allowed for output of limit bytes.
func window(limit int64) int64 { return min(max(limit, minWindow), maxWindow) }

// NewReader returns a reader that decompresses r as format f. For None it
// returns r itself (with a no-op Close). A zstd window is bounded by 128
// MiB; NewReaderLimit bounds it further.
func NewReader(f Format, r io.Reader) (io.ReadCloser, error) {
	return NewReaderLimit(f, r, maxWindow)
}

// NewReaderLimit is NewReader for output of at most limit bytes: a zstd
// window larger than limit is refused (a frame can refer back at most as
// far as its output, and 8 MiB is always allowed), which bounds the
// decoder's memory by the limit.
func NewReaderLimit(f Format, r io.Reader, limit int64) (io.ReadCloser, error) {
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
			zstd.WithDecoderMaxWindow(uint64(window(limit))), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, fmt.Errorf("zstd header: %w: %w", ErrCorrupt, err)
		}
		return zr.IOReadCloser(), nil
	case LZ4:
		return io.NopCloser(lz4.NewReader(r)), nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownFormat, int(f))
}

// sizer is what bytes.Reader, strings.Reader and io.SectionReader are.
type sizer interface {
	io.ReaderAt
	Size() int64
}

// Decompress detects the format of r by magic bytes and returns the
// decompressed data with the format found; plain data is returned as read.
// Past limit bytes of output it stops with ErrTooLarge. When r can be read
// again (a bytes.Reader or io.SectionReader), this is DecompressAt and
// holds at most the result in memory; another stream is first read whole
// (at most limit bytes, else ErrTooLarge).
func Decompress(r io.Reader, limit int64) ([]byte, Format, error) {
	if s, ok := r.(sizer); ok {
		if sk, ok := r.(io.Seeker); ok {
			off, err := sk.Seek(0, io.SeekCurrent)
			if err == nil {
				return DecompressAt(io.NewSectionReader(s, off, s.Size()-off), s.Size()-off, limit)
			}
		}
		return DecompressAt(s, s.Size(), limit)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, None, fmt.Errorf("read: %w", err)
	}
	if n > limit {
		return nil, Detect(buf.Bytes()), fmt.Errorf("input: %w (%d bytes)", ErrTooLarge, limit)
	}
	return DecompressAt(bytes.NewReader(buf.Bytes()), n, limit)
}

// DecompressAt decompresses the size bytes of r, detecting their format by
// magic bytes; plain data is returned as read. Past limit bytes of output
// it stops with ErrTooLarge.
//
// Memory is bounded by construction: the result is allocated once, at its
// final size, and never grown. Its size comes from the format's own record
// (zstd frame content size, gzip ISIZE, the xz index, lz4 content size),
// which the decoders check; a record above limit is ErrTooLarge without
// decoding. When a record is missing or wrong (several frames or streams),
// a first pass counts the output (stopping at limit+1) and a second fills a
// buffer of that size. The decoders' own history is bounded by min(limit,
// 64 MiB).
func DecompressAt(r io.ReaderAt, size, limit int64) ([]byte, Format, error) {
	if limit < 0 {
		limit = 0
	}
	head := make([]byte, min(max(size, 0), HeadSize))
	if n, err := r.ReadAt(head, 0); n < len(head) {
		return nil, None, fmt.Errorf("read header: %w", err)
	}
	f := Detect(head)
	if f == None {
		if size > limit {
			return nil, f, fmt.Errorf("plain: %w (%d bytes)", ErrTooLarge, limit)
		}
		buf := make([]byte, size)
		if n, err := r.ReadAt(buf, 0); int64(n) < size {
			return nil, f, fmt.Errorf("read: %w", err)
		}
		return buf, f, nil
	}
	if f == XZ {
		if err := checkXZDict(r, size, limit); err != nil {
			return nil, f, err
		}
		if out, ok, err := fastXZ(r, size, limit); ok {
			return out, f, err
		}
	}
	if hint, ok := sizeHint(f, r, size); ok {
		if hint > uint64(limit) {
			return nil, f, fmt.Errorf("%s: %w (%d bytes, the stream says %d)", f, ErrTooLarge, limit, hint)
		}
		out, whole, err := fill(f, r, size, limit, int64(hint))
		if err != nil || whole {
			return out, f, err
		}
		// The record was wrong: count, then fill a buffer of the right
		// size (which collects this one first if it is big).
	}
	n, err := count(f, r, size, limit)
	if err != nil {
		return nil, f, err
	}
	if n > limit {
		return nil, f, fmt.Errorf("%s: %w (%d bytes)", f, ErrTooLarge, limit)
	}
	out, whole, err := fill(f, r, size, limit, n)
	if err == nil && !whole {
		err = fmt.Errorf("%s: %w: output changed between passes", f, ErrCorrupt)
	}
	return out, f, err
}

// bigBuffer is the size from which fill collects garbage before it
// allocates: only the largest modules (Debian has a handful) reach it.
const bigBuffer = 16 << 20

// fill decodes into a buffer of n bytes. whole is false when the stream
// holds more than n bytes.
func fill(f Format, r io.ReaderAt, size, limit, n int64) (out []byte, whole bool, err error) {
	zr, err := NewReaderLimit(f, bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10), limit)
	if err != nil {
		return nil, false, err
	}
	defer zr.Close()
	if n >= bigBuffer {
		// Collect first, so that the previous module's image (garbage by
		// now, in a program that reads many) is gone before this one is
		// allocated: with GOGC's pacing alone, both would be held.
		runtime.GC()
	}
	buf := make([]byte, n)
	m, err := readFull(zr, buf)
	switch {
	case errors.Is(err, io.EOF):
		return buf[:m:m], true, nil
	case err != nil:
		return nil, false, fmt.Errorf("%s: %w: %w", f, ErrCorrupt, err)
	}
	var one [1]byte
	k, err := readFull(zr, one[:])
	switch {
	case k == 1:
		return nil, false, nil
	case errors.Is(err, io.EOF):
		return buf, true, nil
	}
	return nil, false, fmt.Errorf("%s: %w: %w", f, ErrCorrupt, err)
}

// readFull fills b from r. Unlike io.ReadFull it returns io.EOF itself
// whenever the stream ended cleanly, however much was read, and passes
// the decoder's own errors (io.ErrUnexpectedEOF for a truncated stream)
// through unchanged.
func readFull(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// count decodes into nothing, up to limit+1 bytes, and says how many
// there were.
func count(f Format, r io.ReaderAt, size, limit int64) (int64, error) {
	zr, err := NewReaderLimit(f, bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10), limit)
	if err != nil {
		return 0, err
	}
	defer zr.Close()
	n, err := io.Copy(io.Discard, io.LimitReader(zr, limit+1))
	if err != nil {
		return 0, fmt.Errorf("%s: %w: %w", f, ErrCorrupt, err)
	}
	return n, nil
}

func nameOr(f Format) string {
	if f == None {
		return "plain"
	}
	return f.String()
}

// fastXZ decodes a whole .xz file with package xzdec, into one buffer of
// the size its index gives. ok is false when xzdec leaves the file to the
// general decoder (a feature it lacks, or corruption, which the general
// decoder then words).
func fastXZ(r io.ReaderAt, size, limit int64) (out []byte, ok bool, err error) {
	if size > limit {
		return nil, false, nil
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); int64(n) < size {
		return nil, true, fmt.Errorf("read: %w", err)
	}
	out, err = xzdec.Decode(nil, data, limit)
	switch {
	case err == nil:
		return out, true, nil
	case errors.Is(err, xzdec.ErrTooLarge):
		return nil, true, fmt.Errorf("%s: %w (%d bytes)", XZ, ErrTooLarge, limit)
	}
	return nil, false, nil
}
