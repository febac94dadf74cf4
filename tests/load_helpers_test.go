package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/gokmod/gokmod/pkg/modfile"
)

// rawModule returns the bytes of the unsigned test module name.
func (b *bed) rawModule(name string) []byte {
	b.t.Helper()
	data, err := os.ReadFile(filepath.Join(b.mods, name+".ko"))
	if err != nil {
		b.t.Fatal(err)
	}
	return data
}

// prepare writes a module built in the test under name, signed when the
// kernel enforces signatures.
func (b *bed) prepare(name string, data []byte) string {
	b.t.Helper()
	if b.enforcing() {
		return b.signBytes(data, "rsa2048", filepath.Join(b.tmp, name))
	}
	return b.write(name, data)
}

// compress compresses data in one of the forms a module is shipped in.
func compress(t testing.TB, form string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch form {
	case "gzip":
		w := gzip.NewWriter(&buf)
		_, err = w.Write(data)
		if err == nil {
			err = w.Close()
		}
	case "xz-crc32", "xz-crc64":
		cfg := xz.WriterConfig{CheckSum: xz.CRC32}
		if form == "xz-crc64" {
			cfg.CheckSum = xz.CRC64
		}
		var w *xz.Writer
		if w, err = cfg.NewWriter(&buf); err == nil {
			if _, err = w.Write(data); err == nil {
				err = w.Close()
			}
		}
	case "zstd":
		var w *zstd.Encoder
		if w, err = zstd.NewWriter(&buf); err == nil {
			if _, err = w.Write(data); err == nil {
				err = w.Close()
			}
		}
	case "lz4":
		w := lz4.NewWriter(&buf)
		if _, err = w.Write(data); err == nil {
			err = w.Close()
		}
	default:
		t.Fatalf("compress: unknown form %q", form)
	}
	if err != nil {
		t.Fatalf("compress %s: %v", form, err)
	}
	return buf.Bytes()
}

// badCRC returns a copy of a module whose first __versions entry other
// than module_layout has a wrong CRC, as if built against another kernel.
func badCRC(t testing.TB, data []byte) []byte {
	t.Helper()
	f, err := modfile.NewFileBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := f.Section("__versions")
	if !ok {
		t.Skip("module has no __versions (kernel without MODVERSIONS)")
	}
	const entry = 64 // unsigned long crc; char name[56]
	out := append([]byte{}, data...)
	for off := s.Offset; off+entry <= s.Offset+s.Size; off += entry {
		name := out[off+8 : off+entry]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if string(name) == "module_layout" || len(name) == 0 {
			continue
		}
		for i := uint64(0); i < 4; i++ {
			out[off+i] ^= 0x5a
		}
		return out
	}
	t.Skip("no symbol in __versions to break")
	return nil
}
