package modfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gokmod/gokmod/pkg/compression"
)

// MaxSize is the largest module image (after decompression) this package
// reads. Debian's largest module is about 16 MiB.
const MaxSize = 1 << 30

// File is an open kernel module.
type File struct {
	data    []byte // the decompressed image
	release func() error
	mapped  bool // data is a read-only mapping of the file

	comp     compression.Format
	class    Class
	order    binary.ByteOrder
	machine  uint16
	shoff    uint64
	shentsz  uint64
	sections []Section

	info    Info
	infoErr error
	infoOK  bool
}

// Class is the ELF class of a module: 32 or 64 bits.
type Class int

// ELF classes.
const (
	Class32 Class = 32
	Class64 Class = 64
)

// Section is an ELF section header.
type Section struct {
	Name    string
	Type    uint32
	Flags   uint64
	Offset  uint64
	Size    uint64
	Link    uint32
	Info    uint32
	EntSize uint64

	hdrOff uint64 // where the header itself is in the image
	inFile bool   // Offset+Size lies within the image
}

// Open opens the module file at path. Errors name the file.
func Open(path string) (*File, error) {
	data, release, mapped, err := readFile(path)
	if err != nil {
		return nil, err
	}
	f, err := newFile(data, mapped)
	if err != nil {
		if release != nil {
			release()
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.mapped {
		f.release = release
	} else if release != nil {
		// The data was decompressed into memory: the mapping is no longer needed.
		release()
	}
	return f, nil
}

// NewFile reads a module of size bytes from r.
func NewFile(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 || size > MaxSize {
		return nil, fmt.Errorf("read module: size %d: %w", size, compression.ErrTooLarge)
	}
	data := make([]byte, size)
	n, err := r.ReadAt(data, 0)
	if n < len(data) {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read module: %w", err)
	}
	return newFile(data, false)
}

// NewFileBytes reads a module from data, which it keeps and does not modify.
func NewFileBytes(data []byte) (*File, error) {
	return newFile(data, false)
}

func newFile(data []byte, mapped bool) (*File, error) {
	f := &File{data: data, mapped: mapped}
	if f.comp = compression.Detect(data); f.comp != compression.None {
		img, _, err := compression.Decompress(bytes.NewReader(data), MaxSize)
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		f.data, f.mapped = img, false
	}
	if err := f.parseHeaders(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close releases the file's mapping, if any. Slices returned by the File
// stay valid: they are copies.
func (f *File) Close() error {
	if f.release == nil {
		return nil
	}
	err := f.release()
	f.release, f.data = nil, nil
	return err
}

// Compression is the format the file was compressed with (compression.None
// for a plain .ko).
func (f *File) Compression() compression.Format { return f.comp }

// Class is the module's ELF class.
func (f *File) Class() Class { return f.class }

// ByteOrder is the module's byte order.
func (f *File) ByteOrder() binary.ByteOrder { return f.order }

// Machine is the module's ELF e_machine value (62 for x86-64).
func (f *File) Machine() uint16 { return f.machine }

// Size is the size of the decompressed image.
func (f *File) Size() int64 { return int64(len(f.data)) }

// Image returns a copy of the whole decompressed image, signature included.
func (f *File) Image() []byte {
	return bytes.Clone(f.data)
}

// Sections returns the section headers in index order (index 0, the null
// section, included).
func (f *File) Sections() []Section {
	return append([]Section(nil), f.sections...)
}

// Section returns the first section called name, as kmod finds it: index 0
// and sections lying outside the file are skipped.
func (f *File) Section(name string) (*Section, bool) {
	for i := 1; i < len(f.sections); i++ {
		s := &f.sections[i]
		if s.inFile && s.Name == name {
			return s, true
		}
	}
	return nil, false
}

// SectionData returns a copy of the contents of the section called name.
func (f *File) SectionData(name string) ([]byte, error) {
	b, err := f.sectionBytes(name)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// sectionBytes returns the contents of a section without copying.
func (f *File) sectionBytes(name string) ([]byte, error) {
	if s, ok := f.Section(name); ok {
		return f.data[s.Offset : s.Offset+s.Size], nil
	}
	for i := 1; i < len(f.sections); i++ {
		if s := &f.sections[i]; s.Name == name {
			return nil, fmt.Errorf("section %s (offset %d, size %d) lies past the end of the %d-byte image: %w",
				name, s.Offset, s.Size, len(f.data), ErrTruncated)
		}
	}
	return nil, fmt.Errorf("%s: %w", name, ErrNoSection)
}

const (
	eiNident   = 16
	ehdr32Size = 52
	ehdr64Size = 64
	shdr32Size = 40
	shdr64Size = 64
)

// parseHeaders reads the ELF header and the section headers with kmod's
// checks (libkmod-elf.c): ELF magic, known class and byte order, section
// header entries of the class's size lying within the image, and a section
// name table ending with a NUL.
func (f *File) parseHeaders() error {
	d := f.data
	if len(d) <= eiNident || !bytes.HasPrefix(d, []byte("\x7fELF")) {
		return ErrNotELF
	}
	switch d[4] {
	case 1:
		f.class = Class32
	case 2:
		f.class = Class64
	default:
		return fmt.Errorf("%w: unknown ELF class %d", ErrBadELF, d[4])
	}
	switch d[5] {
	case 1:
		f.order = binary.LittleEndian
	case 2:
		f.order = binary.BigEndian
	default:
		return fmt.Errorf("%w: unknown ELF data encoding %d", ErrBadELF, d[5])
	}
	var shnum, shstrndx uint64
	if f.class == Class64 {
		if len(d) <= ehdr64Size {
			return fmt.Errorf("ELF header: %w", ErrTruncated)
		}
		f.machine = f.order.Uint16(d[18:])
		f.shoff = f.order.Uint64(d[40:])
		f.shentsz = uint64(f.order.Uint16(d[58:]))
		shnum = uint64(f.order.Uint16(d[60:]))
		shstrndx = uint64(f.order.Uint16(d[62:]))
		if f.shentsz != shdr64Size {
			return fmt.Errorf("%w: section header size %d, want %d", ErrBadELF, f.shentsz, shdr64Size)
		}
	} else {
		if len(d) <= ehdr32Size {
			return fmt.Errorf("ELF header: %w", ErrTruncated)
		}
		f.machine = f.order.Uint16(d[18:])
		f.shoff = uint64(f.order.Uint32(d[32:]))
		f.shentsz = uint64(f.order.Uint16(d[46:]))
		shnum = uint64(f.order.Uint16(d[48:]))
		shstrndx = uint64(f.order.Uint16(d[50:]))
		if f.shentsz != shdr32Size {
			return fmt.Errorf("%w: section header size %d, want %d", ErrBadELF, f.shentsz, shdr32Size)
		}
	}
	size := uint64(len(d))
	if f.shoff > size || shnum*f.shentsz > size-f.shoff {
		return fmt.Errorf("section headers (offset %d, %d entries) past the end of the %d-byte image: %w",
			f.shoff, shnum, size, ErrTruncated)
	}
	if shstrndx == 0 || shstrndx >= shnum {
		return fmt.Errorf("%w: section name table index %d out of range (%d sections)", ErrBadELF, shstrndx, shnum)
	}
	f.sections = make([]Section, shnum)
	for i := range f.sections {
		f.sections[i] = f.readShdr(f.shoff + uint64(i)*f.shentsz)
	}
	strtab := f.sections[shstrndx]
	if !strtab.inFile {
		return fmt.Errorf("section name table (offset %d, size %d) past the end of the %d-byte image: %w",
			strtab.Offset, strtab.Size, size, ErrTruncated)
	}
	names := d[strtab.Offset : strtab.Offset+strtab.Size]
	if len(names) == 0 || names[len(names)-1] != 0 {
		return fmt.Errorf("%w: section name table does not end with NUL", ErrBadELF)
	}
	for i := range f.sections {
		s := &f.sections[i]
		if off := uint64(f.nameOff(s.hdrOff)); off < uint64(len(names)) {
			s.Name = cstring(names[off:])
		}
	}
	return nil
}

func (f *File) nameOff(hdr uint64) uint32 { return f.order.Uint32(f.data[hdr:]) }

func (f *File) readShdr(off uint64) Section {
	d, o := f.data[off:], f.order
	s := Section{hdrOff: off}
	if f.class == Class64 {
		s.Type = o.Uint32(d[4:])
		s.Flags = o.Uint64(d[8:])
		s.Offset = o.Uint64(d[24:])
		s.Size = o.Uint64(d[32:])
		s.Link = o.Uint32(d[40:])
		s.Info = o.Uint32(d[44:])
		s.EntSize = o.Uint64(d[56:])
	} else {
		s.Type = o.Uint32(d[4:])
		s.Flags = uint64(o.Uint32(d[8:]))
		s.Offset = uint64(o.Uint32(d[16:]))
		s.Size = uint64(o.Uint32(d[20:]))
		s.Link = o.Uint32(d[24:])
		s.Info = o.Uint32(d[28:])
		s.EntSize = uint64(o.Uint32(d[36:]))
	}
	size := uint64(len(f.data))
	s.inFile = s.Offset <= size && s.Size <= size-s.Offset
	return s
}

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// readAll reads an open file with the MaxSize cap.
func readAll(fd *os.File, path string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(fd, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%s: %w (%d bytes)", path, compression.ErrTooLarge, int64(MaxSize))
	}
	return data, nil
}
