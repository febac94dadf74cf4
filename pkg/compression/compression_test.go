package compression

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func compress(t testing.TB, f Format, data []byte) []byte {
	t.Helper()
	z, err := Compress(f, data)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

var formats = []Format{None, Gzip, XZ, Zstd, LZ4}

func TestRoundTrip(t *testing.T) {
	data := []byte(strings.Repeat("\x7fELF module payload ", 5000))
	for _, f := range formats {
		t.Run(nameOr(f), func(t *testing.T) {
			z := compress(t, f, data)
			if got := Detect(z); got != f {
				t.Errorf("Detect = %v, want %v", got, f)
			}
			got, gf, err := Decompress(bytes.NewReader(z), int64(len(data)))
			if err != nil {
				t.Fatalf("Decompress: %v", err)
			}
			if gf != f {
				t.Errorf("Decompress format = %v, want %v", gf, f)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("Decompress returned %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	data := bytes.Repeat([]byte{0}, 1<<20)
	for _, f := range formats {
		t.Run(nameOr(f), func(t *testing.T) {
			_, _, err := Decompress(bytes.NewReader(compress(t, f, data)), 1<<20-1)
			if !errors.Is(err, ErrTooLarge) {
				t.Errorf("Decompress with limit below size = %v, want ErrTooLarge", err)
			}
		})
	}
}

func TestCorrupt(t *testing.T) {
	data := []byte(strings.Repeat("some module text ", 1000))
	for _, f := range formats[1:] {
		t.Run(nameOr(f), func(t *testing.T) {
			z := compress(t, f, data)
			for _, cut := range []int{len(magics[f-1].magic), len(z) / 2, len(z) - 1} {
				_, _, err := Decompress(bytes.NewReader(z[:cut]), 1<<24)
				if err == nil {
					t.Errorf("Decompress(truncated at %d of %d) succeeded, want an error", cut, len(z))
				}
			}
		})
	}
}

func TestString(t *testing.T) {
	got := []string{}
	for _, f := range formats {
		got = append(got, f.String())
	}
	want := []string{"", "gzip", "xz", "zstd", "lz4"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Format.String mismatch (-want +got):\n%s", diff)
	}
}

func TestDetectShort(t *testing.T) {
	for _, head := range [][]byte{nil, {0x1f}, {0xfd, '7', 'z'}, []byte("\x7fELF")} {
		if got := Detect(head); got != None {
			t.Errorf("Detect(%q) = %v, want None", head, got)
		}
	}
}

// FuzzDecompress: output never past the cap, and memory bounded by the
// cap and the decoders' history whatever the input claims.
func FuzzDecompress(f *testing.F) {
	for _, format := range formats {
		f.Add(compress(f, format, []byte("hello module")))
	}
	f.Add(zeros(f, Zstd, 4<<20)) // a small bomb: 4 MiB of zeros in a few hundred bytes
	const limit = 1 << 20
	bound := uint64(limit + 2*window(limit) + 2<<20)
	f.Fuzz(func(t *testing.T, data []byte) {
		var out []byte
		var err error
		got := allocated(func() { out, _, err = DecompressAt(bytes.NewReader(data), int64(len(data)), limit) })
		if err == nil && len(out) > limit {
			t.Fatalf("DecompressAt returned %d bytes past the %d-byte limit", len(out), limit)
		}
		if got > bound {
			t.Fatalf("DecompressAt of %d bytes allocated %d, want at most %d", len(data), got, bound)
		}
	})
}

// The kernel's xz decompressor accepts only a CRC32 check (the xz stream
// header's flags, byte 7, low nibble: 0x1 CRC32, 0x4 CRC64).
func TestCompressXZCheckIsCRC32(t *testing.T) {
	z := compress(t, XZ, []byte("module"))
	if len(z) < 8 || z[7]&0x0f != 0x01 {
		t.Fatalf("Compress(XZ) stream flags = % x, want check type 0x01 (CRC32)", z[6:8])
	}
}

func TestNewWriterUnknownFormat(t *testing.T) {
	if _, err := NewWriter(Format(99), io.Discard); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("NewWriter(99) error = %v, want ErrUnknownFormat", err)
	}
}
