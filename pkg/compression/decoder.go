package compression

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Decoder decompresses many small inputs, one after another, reusing its
// output buffer and its zstd decoder between calls: for a tool that reads
// thousands of compressed modules this saves most of the allocation (and
// garbage collection) that Decompress does for each. A Decoder is not safe
// for concurrent use; give each goroutine its own.
// keepMax is the largest output buffer a Decoder keeps between calls.
const keepMax = 8 << 20

type Decoder struct {
	out  bytes.Buffer
	zstd *zstd.Decoder
}

// Decompress returns data decompressed (or data itself when it is not
// compressed) and the format found by its magic bytes. The result is valid
// until the next call. Past limit bytes of output it stops with
// ErrTooLarge.
func (d *Decoder) Decompress(data []byte, limit int64) ([]byte, Format, error) {
	if d.out.Cap() > keepMax {
		// One big module must not pin its buffer for all the rest.
		d.out = bytes.Buffer{}
	}
	f := Detect(data)
	switch f {
	case None:
		return data, f, nil
	case Zstd:
		if d.zstd == nil {
			zd, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
				zstd.WithDecoderMaxWindow(1<<27), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxMemory(uint64(limit)))
			if err != nil {
				return nil, f, fmt.Errorf("zstd: %w", err)
			}
			d.zstd = zd
		}
		out, err := d.zstd.DecodeAll(data, d.out.Bytes()[:0])
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, f, fmt.Errorf("%s: %w (%d bytes)", f, ErrTooLarge, limit)
		}
		if err != nil {
			return nil, f, fmt.Errorf("%s: %w: %w", f, ErrCorrupt, err)
		}
		if int64(len(out)) > limit {
			return nil, f, fmt.Errorf("%s: %w (%d bytes)", f, ErrTooLarge, limit)
		}
		if cap(out) > d.out.Cap() {
			d.out = *bytes.NewBuffer(out[:0])
		}
		return out, f, nil
	}
	zr, err := NewReader(f, bytes.NewReader(data))
	if err != nil {
		return nil, f, err
	}
	defer zr.Close()
	d.out.Reset()
	m, err := d.out.ReadFrom(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, f, fmt.Errorf("%s: %w: %w", f, ErrCorrupt, err)
	}
	if m > limit {
		return nil, f, fmt.Errorf("%s: %w (%d bytes)", f, ErrTooLarge, limit)
	}
	return d.out.Bytes(), f, nil
}
