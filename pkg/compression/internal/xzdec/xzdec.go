package xzdec

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
)

// Errors returned by Decode.
var (
	// ErrUnsupported means the file uses a feature this decoder leaves to
	// a general one.
	ErrUnsupported = errors.New("xz feature not supported by the fast decoder")
	// ErrCorrupt means the file is not a valid .xz file.
	ErrCorrupt = errors.New("corrupt xz data")
	// ErrTooLarge means the output would exceed the caller's limit.
	ErrTooLarge = errors.New("xz output too large")
)

var magic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

var crc64Table = crc64.MakeTable(crc64.ECMA)

func corrupt(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrCorrupt)
}

// varint reads an xz multibyte integer (at most 9 bytes).
func varint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if i > 0 && b[i] == 0 {
				return 0, 0, corrupt("varint")
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, corrupt("varint")
}

// totalSize reads the index at the end of a single-stream file and returns
// the sum of its blocks' uncompressed sizes.
func totalSize(data []byte) (uint64, error) {
	if len(data) < 24 {
		return 0, corrupt("too short")
	}
	foot := data[len(data)-12:]
	if !bytes.Equal(foot[10:], []byte("YZ")) {
		return 0, fmt.Errorf("no footer at the end (padding or concatenated streams): %w", ErrUnsupported)
	}
	if crc32.ChecksumIEEE(foot[4:10]) != binary.LittleEndian.Uint32(foot) {
		return 0, corrupt("footer CRC")
	}
	isize := (uint64(binary.LittleEndian.Uint32(foot[4:])) + 1) * 4
	if isize > uint64(len(data)-24) {
		return 0, corrupt("index size")
	}
	idx := data[uint64(len(data)-12)-isize : len(data)-12]
	if idx[0] != 0 || crc32.ChecksumIEEE(idx[:len(idx)-4]) != binary.LittleEndian.Uint32(idx[len(idx)-4:]) {
		return 0, corrupt("index")
	}
	p := 1
	n, k, err := varint(idx[p:])
	if err != nil {
		return 0, err
	}
	p += k
	var total uint64
	for ; n > 0; n-- {
		if _, k, err = varint(idx[p:]); err != nil {
			return 0, err
		}
		p += k
		u, k, err := varint(idx[p:])
		if err != nil {
			return 0, err
		}
		p += k
		total += u
		if total > 1<<40 {
			return 0, corrupt("index sizes")
		}
	}
	return total, nil
}

// Decode decompresses an .xz file, appending to dst (whose capacity is
// reused when large enough). Past limit bytes of output it fails with
// ErrTooLarge.
func Decode(dst, data []byte, limit int64) ([]byte, error) {
	if len(data) < 12 || !bytes.Equal(data[:6], magic) {
		return nil, corrupt("stream header")
	}
	if data[6] != 0 || data[7]&0xf0 != 0 || crc32.ChecksumIEEE(data[6:8]) != binary.LittleEndian.Uint32(data[8:]) {
		return nil, corrupt("stream flags")
	}
	var check hash.Hash
	checkLen := 0
	switch data[7] {
	case 0:
	case 1:
		check, checkLen = crc32.NewIEEE(), 4
	case 4:
		check, checkLen = crc64.New(crc64Table), 8
	case 10:
		check, checkLen = sha256.New(), 32
	default:
		return nil, fmt.Errorf("check type %d: %w", data[7], ErrUnsupported)
	}
	total, err := totalSize(data)
	if err != nil {
		return nil, err
	}
	if total > uint64(limit) {
		return nil, ErrTooLarge
	}
	out := dst[:0]
	if uint64(cap(out)) < total {
		out = make([]byte, 0, total)
	}
	p := 12
	d := &decoder{}
	for {
		if p >= len(data) {
			return nil, corrupt("truncated")
		}
		if data[p] == 0 {
			break // the index
		}
		hsize := (int(data[p]) + 1) * 4
		if p+hsize > len(data) {
			return nil, corrupt("block header")
		}
		hdr := data[p : p+hsize]
		if crc32.ChecksumIEEE(hdr[:hsize-4]) != binary.LittleEndian.Uint32(hdr[hsize-4:]) {
			return nil, corrupt("block header CRC")
		}
		flags := hdr[1]
		if flags&0x3c != 0 {
			return nil, corrupt("block flags")
		}
		if flags&3 != 0 {
			return nil, fmt.Errorf("%d filters: %w", flags&3+1, ErrUnsupported)
		}
		q := 2
		var csize, usize uint64 = ^uint64(0), ^uint64(0)
		if flags&0x40 != 0 {
			v, k, err := varint(hdr[q:])
			if err != nil {
				return nil, err
			}
			csize, q = v, q+k
		}
		if flags&0x80 != 0 {
			v, k, err := varint(hdr[q:])
			if err != nil {
				return nil, err
			}
			usize, q = v, q+k
		}
		if q+3 > hsize-4 || hdr[q] != 0x21 || hdr[q+1] != 1 {
			return nil, fmt.Errorf("filter is not LZMA2: %w", ErrUnsupported)
		}
		dictProp := hdr[q+2]
		if dictProp > 40 {
			return nil, corrupt("LZMA2 dictionary size")
		}
		p += hsize
		start := len(out)
		out, p, err = d.lzma2(out, data, p, total)
		if err != nil {
			return nil, err
		}
		produced := uint64(len(out) - start)
		if usize != ^uint64(0) && usize != produced {
			return nil, corrupt("block size")
		}
		_ = csize
		for p%4 != 0 {
			if p >= len(data) || data[p] != 0 {
				return nil, corrupt("block padding")
			}
			p++
		}
		if p+checkLen > len(data) {
			return nil, corrupt("truncated check")
		}
		if check != nil {
			check.Reset()
			check.Write(out[start:])
			if !bytes.Equal(check.Sum(nil), littleEndianCheck(data[p:p+checkLen], data[7])) {
				return nil, corrupt("check")
			}
		}
		p += checkLen
	}
	if uint64(len(out)) != total {
		return nil, corrupt("size differs from the index")
	}
	return out, nil
}

// littleEndianCheck returns the stored check in the byte order hash.Sum
// gives it: CRC32 and CRC64 are stored little-endian, Sum is big-endian.
func littleEndianCheck(b []byte, typ byte) []byte {
	if typ == 10 {
		return b
	}
	r := make([]byte, len(b))
	for i := range b {
		r[i] = b[len(b)-1-i]
	}
	return r
}
