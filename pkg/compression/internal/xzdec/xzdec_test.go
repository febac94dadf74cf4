package xzdec

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ulikunitz/xz"
)

func compress(t testing.TB, data []byte, check byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{CheckSum: check, DictCap: 1 << 20}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func reference(t testing.TB, data []byte) ([]byte, error) {
	t.Helper()
	r, err := xz.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestRoundTrip(t *testing.T) {
	text := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog 0123456789 "), 4000)
	noise := make([]byte, 300000)
	x := uint32(1)
	for i := range noise {
		x = x*1664525 + 1013904223
		noise[i] = byte(x >> 24)
	}
	mod, _ := os.ReadFile("/lib/modules/" + firstKernel() + "/kernel/fs/ext4/ext4.ko")
	for _, tc := range []struct {
		name string
		data []byte
	}{{"empty", nil}, {"one", []byte{42}}, {"text", text}, {"noise", noise}, {"mixed", append(append([]byte{}, noise[:70000]...), text...)}, {"module", mod}} {
		for _, check := range []byte{xz.None, xz.CRC32, xz.CRC64, xz.SHA256} {
			comp := compress(t, tc.data, check)
			got, err := Decode(nil, comp, 1<<30)
			if err != nil {
				t.Errorf("%s, check %d: Decode() = %v", tc.name, check, err)
				continue
			}
			if !bytes.Equal(got, tc.data) {
				t.Errorf("%s, check %d: Decode() returned %d bytes that differ from the %d compressed", tc.name, check, len(got), len(tc.data))
			}
		}
	}
}

func firstKernel() string {
	m, _ := filepath.Glob("/lib/modules/6.1.0-*-amd64")
	if len(m) == 0 {
		return "none"
	}
	return filepath.Base(m[0])
}

func TestBad(t *testing.T) {
	good := compress(t, bytes.Repeat([]byte("abcdefgh"), 5000), xz.CRC32)
	if _, err := Decode(nil, good, 100); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode(limit 100) = %v, want ErrTooLarge", err)
	}
	for i := 0; i < len(good); i += 7 {
		bad := bytes.Clone(good)
		bad[i] ^= 0x55
		got, err := Decode(nil, bad, 1<<30)
		if err == nil && !bytes.Equal(got, bytes.Repeat([]byte("abcdefgh"), 5000)) {
			t.Fatalf("byte %d flipped: Decode() returned wrong data and no error", i)
		}
	}
	if _, err := Decode(nil, append(bytes.Clone(good), 0, 0, 0, 0), 1<<30); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Decode(padded stream) = %v, want ErrUnsupported", err)
	}
}

// TestCorpus decodes the .ko.xz files of the trees the depmod tests cache,
// when they are there, and compares with the reference decoder.
func TestCorpus(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".cache", "gokmod", "depmod-corpus", "*"))
	n := 0
	for _, d := range dirs {
		filepath.Walk(d, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || filepath.Ext(p) != ".xz" || n >= 300 {
				return nil
			}
			n++
			data, _ := os.ReadFile(p)
			want, err := reference(t, data)
			if err != nil {
				t.Fatalf("%s: reference: %v", p, err)
			}
			got, err := Decode(nil, data, 1<<30)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: Decode() = %d bytes, %v; want %d bytes", p, len(got), err, len(want))
			}
			return nil
		})
	}
	if n == 0 {
		t.Skip("no cached .ko.xz corpus (run pkg/depmod's tests first)")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(compress(f, []byte("hello hello hello hello"), xz.CRC32))
	f.Add(compress(f, bytes.Repeat([]byte{1, 2, 3}, 1000), xz.CRC64))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Decode(nil, data, 1<<20)
		if err != nil {
			return
		}
		want, rerr := reference(t, data)
		if rerr == nil && !bytes.Equal(got, want) {
			t.Fatalf("Decode() and the reference decoder differ")
		}
	})
}

// benchFile is the largest module of Debian's 6.12 tree, as the depmod
// tests cache it.
var benchFile = filepath.Join(os.Getenv("HOME"), ".cache/gokmod/depmod-corpus/linux-image-6.12.117+deb12-amd64/root/lib/modules/6.12.117+deb12-amd64/kernel/drivers/gpu/drm/amd/amdgpu/amdgpu.ko.xz")

func BenchmarkDecode(b *testing.B) {
	data, err := os.ReadFile(benchFile)
	if err != nil {
		b.Skip(err)
	}
	var out []byte
	for i := 0; i < b.N; i++ {
		if out, err = Decode(out, data, 1<<30); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}

func BenchmarkReference(b *testing.B) {
	data, err := os.ReadFile(benchFile)
	if err != nil {
		b.Skip(err)
	}
	for i := 0; i < b.N; i++ {
		out, err := reference(b, data)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
	}
}
