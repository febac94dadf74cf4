package compression

import (
	"encoding/binary"
	"fmt"
	"io"
)

// sizeHint returns the decompressed size that the stream records about
// itself, if it does: zstd's frame content size, gzip's ISIZE (modulo
// 2^32), the sum of the xz index's records, lz4's content size. The
// decoders check these records against the data, so a lying one is a
// corrupt stream; the caller still treats it as a hint only, as several
// frames, members or streams may follow one another.
func sizeHint(f Format, r io.ReaderAt, size int64) (uint64, bool) {
	switch f {
	case Zstd:
		return zstdHint(r, size)
	case Gzip:
		if size < 18 {
			return 0, false
		}
		var b [4]byte
		if _, err := r.ReadAt(b[:], size-4); err != nil {
			return 0, false
		}
		return uint64(binary.LittleEndian.Uint32(b[:])), true
	case XZ:
		return xzHint(r, size)
	case LZ4:
		var b [14]byte
		if size < int64(len(b)) {
			return 0, false
		}
		if _, err := r.ReadAt(b[:], 0); err != nil {
			return 0, false
		}
		if b[4]&0x08 == 0 { // FLG: content size present
			return 0, false
		}
		return binary.LittleEndian.Uint64(b[6:]), true
	}
	return 0, false
}

// zstdHint reads the Frame_Content_Size of the first frame (RFC 8878
// 3.1.1.1).
func zstdHint(r io.ReaderAt, size int64) (uint64, bool) {
	var b [18]byte
	n, _ := r.ReadAt(b[:min(size, int64(len(b)))], 0)
	if n < 5 {
		return 0, false
	}
	fhd := b[4]
	single := fhd&0x20 != 0
	fcsFlag := fhd >> 6
	off := 5
	if !single {
		off++ // Window_Descriptor
	}
	off += [4]int{0, 1, 2, 4}[fhd&3] // Dictionary_ID
	fcsSize := [4]int{0, 2, 4, 8}[fcsFlag]
	if fcsFlag == 0 && single {
		fcsSize = 1
	}
	if fcsSize == 0 || off+fcsSize > n {
		return 0, false
	}
	v := b[off:]
	switch fcsSize {
	case 1:
		return uint64(v[0]), true
	case 2:
		return uint64(binary.LittleEndian.Uint16(v)) + 256, true
	case 4:
		return uint64(binary.LittleEndian.Uint32(v)), true
	}
	return binary.LittleEndian.Uint64(v), true
}

// xzHint sums the uncompressed sizes in the index of the last xz stream
// (xz file format 1.0.4, sections 2.1.2 and 4).
func xzHint(r io.ReaderAt, size int64) (uint64, bool) {
	end := size
	var foot [12]byte
	for { // skip stream padding
		if end < 12+12 {
			return 0, false
		}
		if _, err := r.ReadAt(foot[:4], end-4); err != nil {
			return 0, false
		}
		if binary.LittleEndian.Uint32(foot[:4]) != 0 {
			break
		}
		end -= 4
	}
	if _, err := r.ReadAt(foot[:], end-12); err != nil || foot[10] != 'Y' || foot[11] != 'Z' {
		return 0, false
	}
	isize := (int64(binary.LittleEndian.Uint32(foot[4:8])) + 1) * 4
	if isize > end-12-12 || isize > 1<<20 {
		return 0, false
	}
	index := make([]byte, isize)
	if _, err := r.ReadAt(index, end-12-isize); err != nil || index[0] != 0 {
		return 0, false
	}
	p := index[1:]
	records, ok := uvarint(&p)
	if !ok {
		return 0, false
	}
	var total uint64
	for range records {
		if _, ok := uvarint(&p); !ok { // unpadded size
			return 0, false
		}
		u, ok := uvarint(&p)
		if !ok || total+u < total {
			return 0, false
		}
		total += u
	}
	return total, true
}

// uvarint reads xz's multibyte integer (at most 9 bytes) from *p.
func uvarint(p *[]byte) (uint64, bool) {
	v, n := binary.Uvarint(*p)
	if n <= 0 || n > 9 {
		return 0, false
	}
	*p = (*p)[n:]
	return v, true
}

// checkXZDict refuses an xz stream whose first block asks for a
// dictionary larger than window(limit): the decoder allocates what the
// header says, and a dictionary larger than the output is never needed.
// Debian's modules use 1 MiB, xz's default 8 MiB, xz -9 64 MiB.
func checkXZDict(r io.ReaderAt, size, limit int64) error {
	var b [12 + 1024]byte
	n, _ := r.ReadAt(b[:min(size, int64(len(b)))], 0)
	if n < 12 {
		return nil
	}
	h := b[12:n] // the first block header
	if len(h) < 2 || h[0] == 0 {
		return nil // no block, or not parsable: the decoder will say
	}
	hsize := (int(h[0]) + 1) * 4
	if hsize > len(h) {
		return nil
	}
	flags := h[1]
	p := h[2:hsize]
	if flags&0x40 != 0 { // compressed size
		if _, ok := uvarint(&p); !ok {
			return nil
		}
	}
	if flags&0x80 != 0 { // uncompressed size
		if _, ok := uvarint(&p); !ok {
			return nil
		}
	}
	for range int(flags&3) + 1 {
		id, ok := uvarint(&p)
		if !ok {
			return nil
		}
		psize, ok := uvarint(&p)
		if !ok || psize > uint64(len(p)) {
			return nil
		}
		props := p[:psize]
		p = p[psize:]
		if id != 0x21 || len(props) != 1 || props[0] > 40 {
			continue // not LZMA2; a bad one is the decoder's to refuse
		}
		d := props[0]
		dict := uint64(0xffffffff)
		if d < 40 {
			dict = uint64(2|d&1) << (d/2 + 11)
		}
		allowed := uint64(window(limit))
		if dict > allowed {
			return fmt.Errorf("xz: %w (dictionary of %d bytes, at most %d allowed)", ErrTooLarge, dict, allowed)
		}
	}
	return nil
}
