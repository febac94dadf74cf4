package modfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/kernel"

	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
	"github.com/gokmod/gokmod/pkg/modsig"
)

// exercise calls every accessor of f, so that a panic anywhere shows.
func exercise(f *File) error {
	var errs []error
	_, err := f.Info()
	errs = append(errs, err)
	_, err = f.Name()
	errs = append(errs, err)
	_, err = f.Versions()
	errs = append(errs, err)
	_, err = f.UndefinedSymbols()
	errs = append(errs, err)
	_, err = f.ExportedSymbols()
	errs = append(errs, err)
	_, err = f.Signature()
	errs = append(errs, err)
	_, err = f.SignedContent()
	errs = append(errs, err)
	_, err = f.StripVersions()
	errs = append(errs, err)
	_, err = f.StripVermagic()
	errs = append(errs, err)
	info, _ := f.Info()
	info.Params()
	return errors.Join(errs...)
}

// boundaries are the offsets where a header or section of img starts or ends.
func boundaries(t *testing.T, img []byte) []int {
	t.Helper()
	f, err := NewFileBytes(img)
	if err != nil {
		t.Fatal(err)
	}
	set := map[int]bool{0: true, 4: true, 16: true, 52: true, 64: true, len(img) - 1: true}
	set[int(f.shoff)] = true
	for i, s := range f.allSections() {
		set[int(s.Offset)] = true
		set[int(s.Offset+s.Size)] = true
		set[int(f.shoff)+i*int(f.shentsz)] = true
	}
	var out []int
	for b := range set {
		if b >= 0 && b < len(img) {
			out = append(out, b)
		}
	}
	sort.Ints(out)
	return out
}

func TestTruncated(t *testing.T) {
	for _, name := range []string{"gokmod_params.ko", "gokmod_user.ko"} {
		img := fixture(t, name)
		for _, n := range boundaries(t, img) {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				_, err := NewFileBytes(img[:n])
				_, lazyErr := NewFile(bytes.NewReader(img[:n]), int64(n))
				if (err == nil) != (lazyErr == nil) {
					t.Errorf("NewFileBytes = %v but NewFile = %v", err, lazyErr)
				}
				switch {
				case n <= 64:
					if !errors.Is(err, ErrNotELF) && !errors.Is(err, ErrTruncated) {
						t.Errorf("NewFileBytes(first %d bytes) = %v, want ErrNotELF or ErrTruncated", n, err)
					}
				default:
					// The section headers are at the end: any cut loses some.
					if !errors.Is(err, ErrTruncated) {
						t.Errorf("NewFileBytes(first %d bytes) = %v, want ErrTruncated", n, err)
					}
				}
			})
		}
	}
}

// patch returns a copy of img with fn applied.
func patch(img []byte, fn func(b []byte, f *File)) []byte {
	b := bytes.Clone(img)
	f, err := NewFileBytes(img)
	if err != nil {
		panic(err)
	}
	fn(b, f)
	return b
}

func trailer(sigLen uint32, idType byte) []byte {
	t := make([]byte, 12)
	t[2] = idType
	binary.BigEndian.PutUint32(t[8:], sigLen)
	return append(t, modsig.Magic...)
}

func TestBadInputs(t *testing.T) {
	img := fixture(t, "gokmod_params.ko")
	modinfoHdr := func(f *File) uint64 { s, _ := f.Section(".modinfo"); return s.hdrOff }
	garbage := bytes.Repeat([]byte{0x30, 0x82, 0xff}, 100)
	for _, tc := range []struct {
		name    string
		data    []byte
		openErr error // from NewFileBytes
		infoErr error // from Info
		sigErr  error // from Signature
	}{
		{name: "empty", data: nil, openErr: ErrTruncated},
		{name: "shorter than any magic", data: []byte("\x7fEL"), openErr: ErrTruncated},
		{name: "short, not ELF", data: []byte("hello\n"), openErr: ErrNotELF},
		{name: "not ELF", data: []byte("#!/bin/sh\necho this is not a module at all, not even close\n"), openErr: ErrNotELF},
		{name: "wrong class", data: patch(img, func(b []byte, _ *File) { b[4] = 3 }), openErr: ErrBadELF},
		{name: "32-bit class on a 64-bit file", data: patch(img, func(b []byte, _ *File) { b[4] = 1 }), openErr: ErrBadELF},
		{name: "wrong byte order", data: patch(img, func(b []byte, _ *File) { b[5] = 0 }), openErr: ErrBadELF},
		{name: "big-endian flag on a little-endian file", data: patch(img, func(b []byte, _ *File) { b[5] = 2 }), openErr: ErrBadELF},
		{name: "section headers past the end", data: patch(img, func(b []byte, _ *File) { binary.LittleEndian.PutUint64(b[40:], 1<<40) }), openErr: ErrTruncated},
		{name: "wrong section header size", data: patch(img, func(b []byte, _ *File) { binary.LittleEndian.PutUint16(b[58:], 40) }), openErr: ErrBadELF},
		{name: "section name table index out of range", data: patch(img, func(b []byte, _ *File) { binary.LittleEndian.PutUint16(b[62:], 0xffff) }), openErr: ErrBadELF},
		{name: ".modinfo offset past the end", data: patch(img, func(b []byte, f *File) {
			binary.LittleEndian.PutUint64(b[modinfoHdr(f)+24:], 1<<50)
		}), infoErr: ErrTruncated},
		{name: ".modinfo size past the end", data: patch(img, func(b []byte, f *File) {
			binary.LittleEndian.PutUint64(b[modinfoHdr(f)+32:], ^uint64(0))
		}), infoErr: ErrTruncated},
		{name: "no .modinfo", data: patch(img, func(b []byte, f *File) {
			// Rename the section: ".modinfo" -> ".modinf0".
			s, _ := f.Section(".modinfo")
			all := f.allSections()
			names := all[len(all)-1]
			for i := range all {
				if all[i].Name == ".shstrtab" {
					names = all[i]
				}
			}
			off := names.Offset + uint64(f.nameOff(s.hdrOff))
			b[off+7] = '0'
		}), infoErr: ErrNotModule},
		{name: "trailer with absurd signature length", data: append(bytes.Clone(img), trailer(0xffffffff, 2)...), sigErr: modsig.ErrMalformed},
		{name: "trailer with zero signature length", data: append(bytes.Clone(img), trailer(0, 2)...), sigErr: modsig.ErrMalformed},
		{name: "trailer alone", data: append(bytes.Clone(img[:0]), trailer(10, 2)...), openErr: ErrNotELF},
		{name: "garbage PKCS#7", data: append(append(bytes.Clone(img), garbage...), trailer(uint32(len(garbage)), 2)...), sigErr: modsig.ErrMalformed},
		{name: "unknown id type", data: append(append(bytes.Clone(img), garbage...), trailer(uint32(len(garbage)), 7)...), sigErr: modsig.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if f, err := NewFile(bytes.NewReader(tc.data), int64(len(tc.data))); err == nil {
				exercise(f)
			} else if tc.openErr == nil || !errors.Is(err, tc.openErr) {
				t.Errorf("NewFile = %v, want %v", err, tc.openErr)
			}
			f, err := NewFileBytes(tc.data)
			if tc.openErr != nil {
				if !errors.Is(err, tc.openErr) {
					t.Errorf("NewFileBytes = %v, want %v", err, tc.openErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewFileBytes = %v, want success", err)
			}
			exercise(f)
			if _, err := f.Info(); !errors.Is(err, tc.infoErr) && !(tc.infoErr == nil && err == nil) {
				t.Errorf("Info() = %v, want %v", err, tc.infoErr)
			}
			if _, err := f.Signature(); !errors.Is(err, tc.sigErr) && !(tc.sigErr == nil && err == nil) {
				t.Errorf("Signature() = %v, want %v", err, tc.sigErr)
			}
		})
	}
}

// FuzzParse: no input panics, and what a File gives is bounded: a plain
// image is exactly the input, a decompressed one never larger than the
// cap. The seeds are small synthetic modules (the fixtures' 5-13 KB would
// cost the fuzzer's minimiser most of a short run).
func FuzzParse(f *testing.F) {
	for _, is64 := range []bool{false, true} {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			f.Add(modfiletest.ELF(is64, order, 3, []modfiletest.Section{
				{Name: ".modinfo", Type: 1, Data: []byte("license=GPL\x00parm=a:b\x00parmtype=a:int\x00vermagic=x\x00")},
				{Name: "__versions", Type: 1, Flags: 2, Data: versionsSection(is64, order, []Version{{"x", 1}})},
				{Name: ".gnu.linkonce.this_module", Type: 1, Data: thisModule(is64, "fuzz")},
			}))
		}
	}
	z, err := compression.Compress(compression.Zstd, modfiletest.Module("license=GPL\x00"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(z)
	const limit = 1 << 20
	cfg := Config{MaxSize: limit}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := cfg.NewFile(bytes.NewReader(data), int64(len(data))); err == nil {
			checkBounded(t, m, data, limit)
			exercise(m)
		}
		m, err := cfg.NewFileBytes(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		checkBounded(t, m, data, limit)
		exercise(m)
	})
}

func checkBounded(t *testing.T, m *File, data []byte, limit int64) {
	t.Helper()
	switch {
	case m.Compression() == compression.None && m.Size() != int64(len(data)):
		t.Fatalf("plain module of %d bytes has size %d", len(data), m.Size())
	case m.Size() > limit:
		t.Fatalf("module of %d bytes past the %d-byte cap", m.Size(), limit)
	}
	if info, err := m.Info(); err == nil {
		n := 0
		for _, fl := range info {
			n += len(fl.Key) + len(fl.Value)
		}
		if int64(n) > m.Size() {
			t.Fatalf(".modinfo of %d bytes from a %d-byte image", n, m.Size())
		}
	}
}

// Open refuses what is not a regular file at once: a FIFO without a writer
// does not block it, a directory or device is not read.
func TestOpenNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "m.ko")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, t.TempDir(), "/dev/zero"} {
		done := make(chan error, 1)
		go func() {
			f, err := Open(path)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, kernel.ErrNotRegular) {
				t.Errorf("Open(%s) = %v, want ErrNotRegular", path, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) blocked", path)
		}
	}
}

// A plain file over the cap is refused before it is read.
func TestOpenTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.ko")
	if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (Config{MaxSize: 4095}).Open(p); !errors.Is(err, compression.ErrTooLarge) {
		t.Errorf("Config{MaxSize: 4095}.Open(4096-byte file) = %v, want ErrTooLarge", err)
	}
}
