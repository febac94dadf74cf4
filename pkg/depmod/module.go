package depmod

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/modfile"
)

// export is a symbol a module exports, with its CRC.
type export struct {
	name string
	crc  uint64
}

// need is a symbol a module uses, as libkmod lists it: the undefined
// symbols of .symtab in order, then the __versions entries no symbol
// named (module_layout).
type need struct {
	name string
	crc  uint64
	weak bool
}

// decoded is what depmod reads from one module file.
type decoded struct {
	aliases  []string // alias= values in .modinfo order
	softdeps []string // softdep= values
	exports  []export
	needs    []need
	// symErr is set when the file could not be opened or parsed: kmod
	// says "failed to load symbols from PATH: ERR" and indexes the module
	// with no aliases, symbols or dependencies.
	symErr error
}

// scratch is one decoding goroutine's reusable buffers.
type scratch struct {
	in  []byte
	dec compression.Decoder
}

// readAll reads a file into the scratch buffer.
func (s *scratch) readAll(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > modfile.MaxSize {
		return nil, fmt.Errorf("%d bytes: %w", st.Size(), compression.ErrTooLarge)
	}
	if cap(s.in) > 4<<20 {
		s.in = nil // one big module must not pin its buffer
	}
	if int64(cap(s.in)) < st.Size()+1 {
		s.in = make([]byte, st.Size()+1)
	}
	n, err := io.ReadFull(f, s.in[:st.Size()+1])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return s.in[:n], nil
}

// open opens a module: a plain one is read section by section, a
// compressed one is read whole and decompressed into the scratch buffers.
func (s *scratch) open(path string) (*modfile.File, error) {
	if strings.HasSuffix(path, ".ko") {
		return modfile.Open(path)
	}
	data, err := s.readAll(path)
	if err != nil {
		return nil, err
	}
	img, _, err := s.dec.Decompress(data, modfile.MaxSize)
	if err != nil {
		return nil, err
	}
	return modfile.NewFileBytes(img)
}

// decode reads a module file. It never fails: a module kmod cannot read
// still appears in modules.dep, with decoded.symErr set. What it returns
// does not point into the scratch buffers.
func decode(path string, s *scratch) (d decoded) {
	defer func() {
		if r := recover(); r != nil {
			d = decoded{symErr: fmt.Errorf("%v: %w", r, syscall.EINVAL)}
		}
	}()
	f, err := s.open(path)
	if err != nil {
		return decoded{symErr: openErrno(path, err)}
	}
	defer f.Close()
	e := &elfSyms{f: f, order: f.ByteOrder(), wide: f.Class() == modfile.Class64}
	d.exports = e.exports()
	d.needs = e.needs()
	if info, err := f.SectionView(".modinfo"); err == nil {
		for _, s := range cstrings(info) {
			key, val, _ := bytes.Cut(s, []byte("="))
			switch string(key) {
			case "alias":
				d.aliases = append(d.aliases, string(val))
			case "softdep":
				d.softdeps = append(d.softdeps, string(val))
			}
		}
	}
	return d
}

// openErrno is the errno kmod reports for a module it cannot open: an
// I/O error's own; ENOEXEC when the (decompressed) contents are not empty
// but do not start as an ELF file does; EINVAL for an empty file, a
// corrupt compressed stream or a truncated ELF file.
func openErrno(path string, err error) error {
	if e := errnoOf(err); e != syscall.EINVAL {
		return e
	}
	if errors.Is(err, modfile.ErrNotELF) {
		return syscall.ENOEXEC
	}
	if !errors.Is(err, modfile.ErrTruncated) {
		return syscall.EINVAL
	}
	data, rerr := os.ReadFile(path)
	if rerr != nil || len(data) == 0 {
		return syscall.EINVAL
	}
	if compression.Detect(data) != compression.None {
		img, _, derr := compression.Decompress(bytes.NewReader(data), modfile.MaxSize)
		if derr != nil || len(img) == 0 {
			return syscall.EINVAL
		}
		data = img
	}
	if len(data) <= 16 || !bytes.HasPrefix(data, []byte("\x7fELF")) {
		return syscall.ENOEXEC
	}
	return syscall.EINVAL
}

// errnoOf maps a read error to the errno kmod would print: an I/O error
// keeps its own, anything wrong with the contents is EINVAL.
func errnoOf(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	if errors.Is(err, fs.ErrNotExist) {
		return syscall.ENOENT
	}
	if errors.Is(err, fs.ErrPermission) {
		return syscall.EACCES
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return syscall.EINVAL
}

// cstrings splits a string table as libkmod does: leading NULs skipped,
// runs of NULs separating strings, an unterminated last string kept.
func cstrings(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}

// cstr returns the NUL-terminated string at the start of b.
func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// elfSyms reads symbols from a module as libkmod-elf.c does.
type elfSyms struct {
	f     *modfile.File
	order binary.ByteOrder
	wide  bool
	// crcSecs caches the sections __crc_ symbols point into.
	crcSecs map[uint16][]byte

	loaded         bool
	symtab, strtab []byte
	tablesOK       bool
}

func (e *elfSyms) symLen() int {
	if e.wide {
		return 24
	}
	return 16
}

// sym decodes the symbol table entry at b.
func (e *elfSyms) sym(b []byte) (name uint32, value uint64, info byte, shndx uint16) {
	if e.wide {
		return e.order.Uint32(b), e.order.Uint64(b[8:]), b[4], e.order.Uint16(b[6:])
	}
	return e.order.Uint32(b), uint64(e.order.Uint32(b[4:])), b[12], e.order.Uint16(b[14:])
}

// tables returns .symtab and .strtab, read once.
func (e *elfSyms) tables() (symtab, strtab []byte, ok bool) {
	if !e.loaded {
		e.loaded = true
		e.symtab, e.strtab, e.tablesOK = e.readTables()
	}
	return e.symtab, e.strtab, e.tablesOK
}

func (e *elfSyms) readTables() (symtab, strtab []byte, ok bool) {
	strtab, err := e.f.SectionView(".strtab")
	if err != nil {
		return nil, nil, false
	}
	symtab, err = e.f.SectionView(".symtab")
	if err != nil || len(symtab)%e.symLen() != 0 {
		return nil, nil, false
	}
	return symtab, strtab, true
}

// exports lists the __crc_ symbols of .symtab with their CRCs, or, when
// there are none (or no usable symbol table), the names of
// __ksymtab_strings with CRC 0.
func (e *elfSyms) exports() []export {
	symtab, strtab, ok := e.tables()
	var out []export
	if ok {
		n := e.symLen()
		for off := n; off+n <= len(symtab); off += n {
			nameOff, value, _, shndx := e.sym(symtab[off:])
			if uint64(nameOff) >= uint64(len(strtab)) {
				out = nil
				break
			}
			name, isCRC := bytes.CutPrefix(strtab[nameOff:], []byte("__crc_"))
			if !isCRC {
				continue
			}
			out = append(out, export{name: cstr(name), crc: e.resolveCRC(value, shndx)})
		}
	}
	if len(out) > 0 {
		return out
	}
	strs, err := e.f.SectionView("__ksymtab_strings")
	if err != nil {
		return nil
	}
	for _, s := range cstrings(strs) {
		out = append(out, export{name: string(s)})
	}
	return out
}

// resolveCRC reads a CRC that a symbol's value locates in a section (on
// kernels that put CRCs in a __kcrctab section) or is itself (SHN_ABS).
func (e *elfSyms) resolveCRC(v uint64, shndx uint16) uint64 {
	if shndx == uint16(elf.SHN_ABS) || shndx == uint16(elf.SHN_UNDEF) {
		return v
	}
	sec, ok := e.crcSecs[shndx]
	if !ok {
		sec, _ = e.f.SectionViewAt(int(shndx))
		if e.crcSecs == nil {
			e.crcSecs = map[uint16][]byte{}
		}
		e.crcSecs[shndx] = sec
	}
	if len(sec) < 4 || v > uint64(len(sec))-4 {
		return ^uint64(0)
	}
	return uint64(e.order.Uint32(sec[v:]))
}

// needs lists the undefined symbols with the CRCs __versions gives them
// (0 when it has none), then the __versions entries that name no
// undefined symbol. A module without a usable symbol table needs nothing.
func (e *elfSyms) needs() []need {
	const verLen = 64
	crcLen := 4
	if e.wide {
		crcLen = 8
	}
	versions, err := e.f.SectionView("__versions")
	if err != nil || len(versions)%verLen != 0 {
		versions = nil
	}
	symtab, strtab, ok := e.tables()
	if !ok {
		return nil
	}
	nver := len(versions) / verLen
	verIdx := make(map[string]int, nver)
	for i := nver - 1; i >= 0; i-- {
		verIdx[cstr(versions[i*verLen+crcLen:(i+1)*verLen])] = i
	}
	visited := make([]bool, nver)
	crcAt := func(i int) uint64 {
		if crcLen == 8 {
			return e.order.Uint64(versions[i*verLen:])
		}
		return uint64(e.order.Uint32(versions[i*verLen:]))
	}
	sparc := e.f.Machine() == uint16(elf.EM_SPARC) || e.f.Machine() == uint16(elf.EM_SPARCV9)
	var out []need
	n := e.symLen()
	for off := n; off+n <= len(symtab); off += n {
		nameOff, _, info, shndx := e.sym(symtab[off:])
		if shndx != uint16(elf.SHN_UNDEF) {
			continue
		}
		if sparc && info&0xf == 13 { // STT_REGISTER
			continue
		}
		if uint64(nameOff) >= uint64(len(strtab)) {
			return nil
		}
		name := cstr(strtab[nameOff:])
		if name == "" {
			continue
		}
		nd := need{name: name, weak: elf.SymBind(info>>4) == elf.STB_WEAK}
		if i, ok := verIdx[name]; ok {
			visited[i] = true
			nd.crc = crcAt(i)
		}
		out = append(out, nd)
	}
	for i := 0; i < nver; i++ {
		if !visited[i] {
			out = append(out, need{name: cstr(versions[i*verLen+crcLen : (i+1)*verLen]), crc: crcAt(i)})
		}
	}
	return out
}
