package tests

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/gokmod/gokmod/pkg/compression"
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

// compress compresses data in one of the forms a module is shipped in:
// a pkg/compression format (xz with the kernel's CRC32 check), or
// "xz-crc64", the check a user's xz writes by default, which the kernel's
// decompressor refuses.
func compress(t testing.TB, form string, data []byte) []byte {
	t.Helper()
	var z []byte
	var err error
	switch form {
	case "gzip":
		z, err = compression.Compress(compression.Gzip, data)
	case "xz-crc32":
		z, err = compression.Compress(compression.XZ, data)
	case "xz-crc64":
		var buf bytes.Buffer
		var w *xz.Writer
		if w, err = (xz.WriterConfig{CheckSum: xz.CRC64}).NewWriter(&buf); err == nil {
			if _, err = w.Write(data); err == nil {
				err = w.Close()
			}
		}
		z = buf.Bytes()
	case "zstd":
		z, err = compression.Compress(compression.Zstd, data)
	case "lz4":
		z, err = compression.Compress(compression.LZ4, data)
	default:
		t.Fatalf("compress: unknown form %q", form)
	}
	if err != nil {
		t.Fatalf("compress %s: %v", form, err)
	}
	return z
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
