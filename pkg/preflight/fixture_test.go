package preflight

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
)

// mod describes a synthetic module.
type mod struct {
	name     string
	info     []string // key=value strings of .modinfo
	undef    []string // global undefined symbols
	weak     []string // weak undefined symbols
	exports  []string // symbols exported with EXPORT_SYMBOL (a __ksymtab_ entry each)
	versions [][2]any // __versions: {name string, crc uint32}; nil: no section
	noThis   bool     // no .gnu.linkonce.this_module
	noSymtab bool
	machine  elf.Machine
}

const testVermagic = "6.1.0-test SMP preempt mod_unload modversions "

// defaultInfo is what modpost gives every module.
func (m mod) modinfo() string {
	info := m.info
	if info == nil {
		info = []string{"license=GPL", "vermagic=" + testVermagic}
	}
	return strings.Join(append(info, "name="+m.name), "\x00") + "\x00"
}

func (m mod) bytes() []byte {
	le := binary.LittleEndian
	var secs []modfiletest.Section
	secs = append(secs, modfiletest.Section{Name: ".modinfo", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Data: []byte(m.modinfo())})
	if !m.noThis {
		this := make([]byte, 1024)
		copy(this[24:], m.name)
		secs = append(secs, modfiletest.Section{Name: ".gnu.linkonce.this_module", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC | elf.SHF_WRITE, Data: this})
	}
	if m.versions != nil {
		var v []byte
		for _, e := range m.versions {
			ent := make([]byte, 64)
			le.PutUint64(ent, uint64(e[1].(uint32)))
			copy(ent[8:], e[0].(string))
			v = append(v, ent...)
		}
		secs = append(secs, modfiletest.Section{Name: "__versions", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Data: v})
	}
	ksymtab := len(secs) + 1 // index of __ksymtab
	secs = append(secs, modfiletest.Section{Name: "__ksymtab", Type: elf.SHT_PROGBITS, Flags: elf.SHF_ALLOC, Data: make([]byte, 12*len(m.exports)+1)})
	if !m.noSymtab {
		strtab := []byte{0}
		syms := make([]byte, 24) // the null symbol
		add := func(name string, bind elf.SymBind, shndx uint16, value uint64) {
			s := make([]byte, 24)
			le.PutUint32(s, uint32(len(strtab)))
			s[4] = byte(bind)<<4 | byte(elf.STT_NOTYPE)
			le.PutUint16(s[6:], shndx)
			le.PutUint64(s[8:], value)
			syms = append(syms, s...)
			strtab = append(append(strtab, name...), 0)
		}
		for _, s := range m.undef {
			add(s, elf.STB_GLOBAL, 0, 0)
		}
		for _, s := range m.weak {
			add(s, elf.STB_WEAK, 0, 0)
		}
		for i, s := range m.exports {
			add("__ksymtab_"+s, elf.STB_GLOBAL, uint16(ksymtab), uint64(12*i))
		}
		symtabIdx := len(secs) + 1
		secs = append(secs,
			modfiletest.Section{Name: ".symtab", Type: elf.SHT_SYMTAB, Data: syms, Link: uint32(symtabIdx + 1), Info: 1, Entsize: 24},
			modfiletest.Section{Name: ".strtab", Type: elf.SHT_STRTAB, Data: strtab})
	}
	machine := m.machine
	if machine == 0 {
		machine = elf.EM_X86_64
	}
	return modfiletest.ELF(true, le, machine, secs)
}

// symvers writes Module.symvers lines: name crc kind, for vmlinux.
func symvers(lines ...string) string {
	var b strings.Builder
	for _, l := range lines {
		f := strings.Fields(l)
		ns := ""
		if len(f) > 3 {
			ns = "\t" + f[3]
		}
		fmt.Fprintf(&b, "%s\t%s\tvmlinux\t%s%s\n", f[1], f[0], f[2], ns)
	}
	return b.String()
}

// buildFS is a build directory with the test kernel's release, config
// and exports.
func buildFS(config string, exports ...string) fstest.MapFS {
	if config == "" {
		config = "CONFIG_SMP=y\nCONFIG_PREEMPT_BUILD=y\nCONFIG_MODULE_UNLOAD=y\nCONFIG_MODVERSIONS=y\nCONFIG_X86_64=y\nCONFIG_MODULE_SIG=y\n"
	}
	if exports == nil {
		exports = []string{"module_layout 0x11111111 EXPORT_SYMBOL", "printk 0x22222222 EXPORT_SYMBOL",
			"ktime_get 0x33333333 EXPORT_SYMBOL_GPL", "usb_thing 0x44444444 EXPORT_SYMBOL USB_NS"}
	}
	return fstest.MapFS{
		"include/generated/utsrelease.h": {Data: []byte("#define UTS_RELEASE \"6.1.0-test\"\n")},
		"include/config/auto.conf":       {Data: []byte(config)},
		"Module.symvers":                 {Data: []byte(symvers(exports...))},
	}
}

// goodVersions are the CRCs the test kernel has.
var goodVersions = [][2]any{{"module_layout", uint32(0x11111111)}, {"printk", uint32(0x22222222)}}

// offline returns the target of buildFS.
func offline(t *testing.T, b fs.FS, opts OfflineOptions) *Target {
	t.Helper()
	tg, err := Offline(b, "test", opts)
	if err != nil {
		t.Fatalf("Offline() = %v", err)
	}
	return tg
}

// step returns the result of the named step.
func step(t *testing.T, r *Report, name string) Result {
	t.Helper()
	for _, s := range r.Steps {
		if s.Step == name {
			return s
		}
	}
	t.Fatalf("no step %s in %+v", name, r.Steps)
	return Result{}
}

func treeFS(files map[string]string, mods map[string][]byte) fstest.MapFS {
	m := fstest.MapFS{}
	for n, d := range files {
		m[n] = &fstest.MapFile{Data: []byte(d)}
	}
	for n, d := range mods {
		m[n] = &fstest.MapFile{Data: bytes.Clone(d)}
	}
	return m
}
