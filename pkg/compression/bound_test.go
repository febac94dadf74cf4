package compression

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"
)

// zeros compresses n zero bytes as format f without holding them.
func zeros(t testing.TB, f Format, n int64) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(f, &out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(w, zeroReader{}, n); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// allocated returns the bytes allocated while fn ran (by every goroutine:
// fn's own, in these tests).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A bomb stops at the cap, and what is allocated on the way is bounded by
// the cap and the decoder's history, whatever the bomb's size.
func TestBombBounded(t *testing.T) {
	const size, limit = 48 << 20, 4 << 20
	for _, f := range formats {
		t.Run(nameOr(f), func(t *testing.T) {
			z := zeros(t, f, size)
			var err error
			got := allocated(func() { _, _, err = Decompress(bytes.NewReader(z), limit) })
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decompress(%d-byte bomb, limit %d) = %v, want ErrTooLarge", size, limit, err)
			}
			bound := uint64(limit + window(limit) + 4<<20)
			if got > bound {
				t.Errorf("Decompress(%d-byte bomb, limit %d) allocated %d bytes, want at most %d", size, limit, got, bound)
			}
			t.Logf("%s: %d-byte input, %d bytes allocated", nameOr(f), len(z), got)
		})
	}
}

// A bomb whose size record is small (a tiny frame, member or stream after
// it) is counted before anything is kept.
func TestHiddenBombBounded(t *testing.T) {
	const size, limit = 48 << 20, 4 << 20
	for _, f := range []Format{Gzip, XZ, Zstd} {
		t.Run(nameOr(f), func(t *testing.T) {
			z := append(zeros(t, f, size), compress(t, f, []byte("tiny"))...)
			if hint, ok := sizeHint(f, bytes.NewReader(z), int64(len(z))); ok && hint > limit {
				t.Fatalf("sizeHint = %d, want a small or no record", hint)
			}
			var err error
			got := allocated(func() { _, _, err = Decompress(bytes.NewReader(z), limit) })
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decompress(hidden %d-byte bomb, limit %d) = %v, want ErrTooLarge", size, limit, err)
			}
			bound := uint64(limit + 2*window(limit) + 4<<20)
			if got > bound {
				t.Errorf("Decompress(hidden %d-byte bomb, limit %d) allocated %d bytes, want at most %d", size, limit, got, bound)
			}
			t.Logf("%s: %d bytes allocated", nameOr(f), got)
		})
	}
}

// An honest module is decompressed into one buffer of its size: no
// doubling growth, no second copy.
func TestDecompressAllocatesOnce(t *testing.T) {
	const size = 24 << 20
	data := bytes.Repeat([]byte("\x7fELF module text 0123456789abcdef"), size/32)
	for _, f := range formats {
		t.Run(nameOr(f), func(t *testing.T) {
			z := compress(t, f, data)
			var out []byte
			var err error
			got := allocated(func() { out, _, err = Decompress(bytes.NewReader(z), DefaultLimit) })
			if err != nil || !bytes.Equal(out, data) {
				t.Fatalf("Decompress = %d bytes, %v; want %d bytes", len(out), err, len(data))
			}
			// Without a size record (our zstd writer streams), the decoder
			// runs twice, and its window is allocated twice.
			bound := uint64(len(data) + 2*minWindow + 4<<20)
			if got > bound {
				t.Errorf("Decompress(%d bytes of %s) allocated %d bytes, want at most %d", len(data), nameOr(f), got, bound)
			}
			t.Logf("%s: %d bytes allocated for %d", nameOr(f), got, len(data))
		})
	}
}
