package modfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/kernel"
)

// MaxSize is the default cap on a module image (after decompression):
// compression.DefaultLimit, four times Debian's largest module. Config
// sets another.
const MaxSize = compression.DefaultLimit

// Config holds the limits a module is read with. The zero Config uses
// MaxSize; Open, NewFile and NewFileBytes use the zero Config.
type Config struct {
	// MaxSize caps the image: a plain file larger than this is refused
	// before it is read, a compressed one is decompressed into one buffer
	// of its size and refused as soon as its output passes the cap
	// (compression.DecompressAt).
	MaxSize int64
}

func (c Config) limit() int64 {
	if c.MaxSize > 0 {
		return c.MaxSize
	}
	return MaxSize
}

// File is an open kernel module.
type File struct {
	r      io.ReaderAt // the image, when data is not loaded
	size   uint64
	closer io.Closer
	data   []byte // the whole decompressed image, once loaded
	head   []byte // the first bytes of the image
	tail   []byte // the last bytes: section headers, names and signature, usually
	tailAt uint64

	comp     compression.Format
	class    Class
	order    binary.ByteOrder
	machine  uint16
	shoff    uint64
	shentsz  uint64
	shdrs    []byte    // the section header table
	shnum    int       // entries in it
	names    []byte    // the section name table
	sections []Section // parsed on demand by allSections

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
	Align   uint64 // sh_addralign
	EntSize uint64

	hdrOff uint64 // where the header itself is in the image
	inFile bool   // Offset+Size lies within the image
}

// tailSize is how much of the end of a plain file is read up front: in
// every Debian 6.1 module the section headers, their names and the
// signature lie within the last 7.5 KiB.
const tailSize = 8 << 10

// Open opens the module file at path. Errors name the file. A plain module
// is read on demand (the ELF and section headers, then what each accessor
// needs); a compressed one is decompressed into memory. Anything but a
// regular file is refused without being read (a FIFO does not block).
func Open(path string) (*File, error) { return Config{}.Open(path) }

// NewFile reads a module of size bytes from r. A plain module is read on
// demand, so r must stay readable while the File is used; a compressed one
// is decompressed into memory at once.
func NewFile(r io.ReaderAt, size int64) (*File, error) { return Config{}.NewFile(r, size) }

// NewFileBytes reads a module from data, which it keeps and does not
// modify. Compressed data is decompressed.
func NewFileBytes(data []byte) (*File, error) { return Config{}.NewFileBytes(data) }

// Open is the package's Open with c's limits.
func (c Config) Open(path string) (*File, error) {
	fd, size, err := kernel.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	f, err := c.NewFile(fd, size)
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.r == io.ReaderAt(fd) {
		f.closer = fd
	} else {
		fd.Close()
	}
	return f, nil
}

// NewFile is the package's NewFile with c's limits.
func (c Config) NewFile(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: negative size %d", ErrTruncated, size)
	}
	head := make([]byte, min(size, ehdr64Size))
	if err := readFull(r, head, 0); err != nil {
		return nil, err
	}
	if comp := compression.Detect(head); comp != compression.None {
		img, _, err := compression.DecompressAt(r, size, c.limit())
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		f, err := newFilePlain(img)
		if err == nil {
			f.comp = comp
		}
		return f, err
	}
	if size > c.limit() {
		return nil, fmt.Errorf("read module: %w (%d bytes, limit %d)", compression.ErrTooLarge, size, c.limit())
	}
	f := &File{r: r, size: uint64(size), head: head}
	n := min(uint64(size), tailSize)
	f.tailAt = uint64(size) - n
	f.tail = make([]byte, n)
	if err := readFull(r, f.tail, int64(f.tailAt)); err != nil {
		return nil, err
	}
	if err := f.parseHeaders(); err != nil {
		return nil, err
	}
	return f, nil
}

// NewFileBytes is the package's NewFileBytes with c's limits.
func (c Config) NewFileBytes(data []byte) (*File, error) {
	if comp := compression.Detect(data); comp != compression.None {
		img, _, err := compression.DecompressAt(bytes.NewReader(data), int64(len(data)), c.limit())
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		f, err := newFilePlain(img)
		if err == nil {
			f.comp = comp
		}
		return f, err
	}
	return newFilePlain(data)
}

// newFilePlain reads a module from data, decompressed or plain: a
// compressed image inside a compressed file is not a module (the kernel
// decompresses once), not a reason to decompress again.
func newFilePlain(data []byte) (*File, error) {
	f := &File{data: data, size: uint64(len(data))}
	if err := f.parseHeaders(); err != nil {
		return nil, err
	}
	return f, nil
}

func readFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return fmt.Errorf("read at %d: %w", off, ErrTruncated)
	}
	return fmt.Errorf("read at %d: %w", off, err)
}

// readAt returns n bytes at off, which the caller has checked lie within
// the image. The slice must not be modified.
func (f *File) readAt(off, n uint64) ([]byte, error) {
	switch {
	case f.data != nil:
		return f.data[off : off+n : off+n], nil
	case off >= f.tailAt:
		return f.tail[off-f.tailAt : off-f.tailAt+n], nil
	case off+n <= uint64(len(f.head)):
		return f.head[off : off+n], nil
	}
	b := make([]byte, n)
	if err := readFull(f.r, b, int64(off)); err != nil {
		return nil, err
	}
	return b, nil
}

// load reads the whole image into memory, for the accessors that need
// more than a few sections.
func (f *File) load() ([]byte, error) {
	if f.data == nil {
		b := make([]byte, f.size)
		if err := readFull(f.r, b, 0); err != nil {
			return nil, fmt.Errorf("read module: %w", err)
		}
		f.data = b
	}
	return f.data, nil
}

// Close closes the file opened by Open. Slices returned by the File stay
// valid.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
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
func (f *File) Size() int64 { return int64(f.size) }

// Image returns a copy of the whole decompressed image, signature included.
func (f *File) Image() ([]byte, error) {
	data, err := f.load()
	if err != nil {
		return nil, err
	}
	return bytes.Clone(data), nil
}

// Bytes returns the whole decompressed image, signature included, without
// copying it: the slice must not be modified. A plain file is read into
// memory once (at most the Config's MaxSize, checked when it was opened).
func (f *File) Bytes() ([]byte, error) { return f.load() }

// Sections returns the section headers in index order (index 0, the null
// section, included).
func (f *File) Sections() []Section {
	return append([]Section(nil), f.allSections()...)
}

// allSections parses every section header once.
func (f *File) allSections() []Section {
	if f.sections == nil {
		f.sections = make([]Section, f.shnum)
		for i := range f.sections {
			f.sections[i] = f.readShdr(uint64(i) * f.shentsz)
			if off := uint64(f.nameOff(f.sections[i].hdrOff)); off < uint64(len(f.names)) {
				f.sections[i].Name = cstring(f.names[off:])
			}
		}
	}
	return f.sections
}

// find returns the index of the first section called name that lies
// within the image, as kmod finds it (index 0 skipped), without parsing
// the others; past is set when a section of that name lies outside.
func (f *File) find(name string) (idx int, past *Section) {
	for i := 1; i < f.shnum; i++ {
		hdr := uint64(i) * f.shentsz
		off := uint64(f.order.Uint32(f.shdrs[hdr:]))
		if off >= uint64(len(f.names)) || !cstringIs(f.names[off:], name) {
			continue
		}
		s := f.readShdr(hdr)
		if s.inFile {
			return i, nil
		}
		if past == nil {
			s.Name = name
			past = &s
		}
	}
	return -1, past
}

// cstringIs reports whether b starts with s followed by a NUL.
func cstringIs(b []byte, s string) bool {
	return len(b) > len(s) && b[len(s)] == 0 && string(b[:len(s)]) == s
}

// Section returns the first section called name, as kmod finds it: index 0
// and sections lying outside the file are skipped.
func (f *File) Section(name string) (*Section, bool) {
	i, _ := f.find(name)
	if i < 0 {
		return nil, false
	}
	s := f.readShdr(uint64(i) * f.shentsz)
	s.Name = name
	return &s, true
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
	i, past := f.find(name)
	if i >= 0 {
		s := f.readShdr(uint64(i) * f.shentsz)
		return f.readAt(s.Offset, s.Size)
	}
	if past != nil {
		return nil, fmt.Errorf("section %s (offset %d, size %d) lies past the end of the %d-byte image: %w",
			name, past.Offset, past.Size, f.size, ErrTruncated)
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
	d, err := f.readAt(0, min(f.size, ehdr64Size+1))
	if err != nil {
		return err
	}
	if len(d) < compression.HeadSize {
		// Too short even to tell a compressed file from a plain one; kmod
		// answers EINVAL here and ENOEXEC for a longer file that is not ELF.
		return fmt.Errorf("%d-byte image: %w", len(d), ErrTruncated)
	}
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
	size := f.size
	if f.shoff > size || shnum*f.shentsz > size-f.shoff {
		return fmt.Errorf("section headers (offset %d, %d entries) past the end of the %d-byte image: %w",
			f.shoff, shnum, size, ErrTruncated)
	}
	if shstrndx == 0 || shstrndx >= shnum {
		return fmt.Errorf("%w: section name table index %d out of range (%d sections)", ErrBadELF, shstrndx, shnum)
	}
	if f.shdrs, err = f.readAt(f.shoff, shnum*f.shentsz); err != nil {
		return fmt.Errorf("read section headers: %w", err)
	}
	f.shnum = int(shnum)
	strtab := f.readShdr(shstrndx * f.shentsz)
	if !strtab.inFile {
		return fmt.Errorf("section name table (offset %d, size %d) past the end of the %d-byte image: %w",
			strtab.Offset, strtab.Size, size, ErrTruncated)
	}
	names, err := f.readAt(strtab.Offset, strtab.Size)
	if err != nil {
		return fmt.Errorf("read section names: %w", err)
	}
	if len(names) == 0 || names[len(names)-1] != 0 {
		return fmt.Errorf("%w: section name table does not end with NUL", ErrBadELF)
	}
	f.names = names
	return nil
}

// nameOff is sh_name of the section header at hdr in the image.
func (f *File) nameOff(hdr uint64) uint32 { return f.order.Uint32(f.shdrs[hdr-f.shoff:]) }

// readShdr parses the section header at off in the section header table.
func (f *File) readShdr(off uint64) Section {
	d, o := f.shdrs[off:], f.order
	s := Section{hdrOff: f.shoff + off}
	if f.class == Class64 {
		s.Type = o.Uint32(d[4:])
		s.Flags = o.Uint64(d[8:])
		s.Offset = o.Uint64(d[24:])
		s.Size = o.Uint64(d[32:])
		s.Link = o.Uint32(d[40:])
		s.Info = o.Uint32(d[44:])
		s.Align = o.Uint64(d[48:])
		s.EntSize = o.Uint64(d[56:])
	} else {
		s.Type = o.Uint32(d[4:])
		s.Flags = uint64(o.Uint32(d[8:]))
		s.Offset = uint64(o.Uint32(d[16:]))
		s.Size = uint64(o.Uint32(d[20:]))
		s.Link = o.Uint32(d[24:])
		s.Info = o.Uint32(d[28:])
		s.Align = uint64(o.Uint32(d[32:]))
		s.EntSize = uint64(o.Uint32(d[36:]))
	}
	s.inFile = s.Offset <= f.size && s.Size <= f.size-s.Offset
	return s
}

// cstring returns b up to its first NUL.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
