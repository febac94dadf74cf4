package depmod

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
)

// synth describes a synthetic module: its .modinfo strings, the symbols
// it exports (name=crc, as __crc_ symbols), the symbols it needs (a
// leading '~' makes one weak) and its __versions entries (name=crc).
type synth struct {
	modinfo  []string
	exports  map[string]uint64
	needs    []string
	versions [][2]any
}

func (s synth) bytes() []byte {
	strtab := []byte{0}
	symtab := make([]byte, 24) // the null symbol
	sym := func(name string, info byte, shndx uint16, value uint64) {
		e := make([]byte, 24)
		binary.LittleEndian.PutUint32(e, uint32(len(strtab)))
		strtab = append(append(strtab, name...), 0)
		e[4] = info
		binary.LittleEndian.PutUint16(e[6:], shndx)
		binary.LittleEndian.PutUint64(e[8:], value)
		symtab = append(symtab, e...)
	}
	for _, n := range s.needs {
		bind := elf.STB_GLOBAL
		if strings.HasPrefix(n, "~") {
			n, bind = n[1:], elf.STB_WEAK
		}
		sym(n, byte(bind)<<4, uint16(elf.SHN_UNDEF), 0)
	}
	var ksymtab []byte
	for _, n := range sortedKeys(s.exports) {
		sym("__crc_"+n, byte(elf.STB_GLOBAL)<<4, uint16(elf.SHN_ABS), s.exports[n])
		ksymtab = append(append(ksymtab, n...), 0)
	}
	var versions []byte
	for _, v := range s.versions {
		e := make([]byte, 64)
		binary.LittleEndian.PutUint64(e, v[1].(uint64))
		copy(e[8:], v[0].(string))
		versions = append(versions, e...)
	}
	secs := []modfiletest.Section{
		{Name: ".modinfo", Type: elf.SHT_PROGBITS, Data: []byte(strings.Join(s.modinfo, "\x00") + "\x00")},
		{Name: ".symtab", Type: elf.SHT_SYMTAB, Data: symtab, Link: 3, Entsize: 24},
		{Name: ".strtab", Type: elf.SHT_STRTAB, Data: strtab},
		{Name: "__ksymtab_strings", Type: elf.SHT_PROGBITS, Data: ksymtab},
		{Name: "__versions", Type: elf.SHT_PROGBITS, Data: versions},
	}
	return modfiletest.ELF(true, binary.LittleEndian, elf.EM_X86_64, secs)
}

func sortedKeys(m map[string]uint64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func writeSynth(t testing.TB, mods map[string]synth) string {
	t.Helper()
	base := t.TempDir()
	for rel, s := range mods {
		p := filepath.Join(base, md, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, s.bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return base
}

// TestSynthetic runs kmod and Build on synthetic modules: symbol
// versions, weak and unknown symbols, softdeps, device names, aliases
// with brackets and dashes, and a dependency cycle.
func TestSynthetic(t *testing.T) {
	kmodDepmod(t)
	dir := t.TempDir()
	symvers := filepath.Join(dir, "Module.symvers")
	os.WriteFile(symvers, []byte("0x12345678\tkernel_sym\tvmlinux\tEXPORT_SYMBOL\t\n0xdeadbeef\tother_sym\tvmlinux\tEXPORT_SYMBOL_GPL\t\n0x1\tmodsym\tsomemod\tEXPORT_SYMBOL\t\nzz\tbadcrc\tvmlinux\tEXPORT_SYMBOL\n"), 0o644)
	sysmap := filepath.Join(dir, "System.map")
	os.WriteFile(sysmap, []byte("ffffffff81000000 T _text\nffffffff82000000 r __ksymtab_kernel_sym\nbadline\nffffffff82000010 r __ksymtab_other_sym\n"), 0o644)
	good := map[string]synth{
		"kernel/a/base.ko": {modinfo: []string{"alias=pci:v00001234d*sv*", "alias=usb:v1234p*d*dc*dsc*dp*ic[0-9]*isc*ip*in*", "alias=fs-base-fs", "softdep=pre: helper", "license=GPL"},
			exports: map[string]uint64{"base_fn": 0x1111, "base_data": 0x2222}},
		"kernel/b/user-one.ko": {modinfo: []string{"alias=devname:mapper/control", "alias=char-major-10-236", "alias=bad[alias"},
			exports: map[string]uint64{"user_fn": 0x3333},
			needs:   []string{"base_fn", "kernel_sym", "~weak_missing", "missing_sym", "other_sym"},
			versions: [][2]any{{"base_fn", uint64(0x1111)}, {"kernel_sym", uint64(0x99)}, {"other_sym", uint64(0xdeadbeef)},
				{"module_layout", uint64(0x42)}}},
		"kernel/c/top.ko":  {modinfo: []string{"alias=devname:onlyname"}, needs: []string{"user_fn", "base_data", "__this_module"}},
		"kernel/c/dup.ko":  {exports: map[string]uint64{"base_fn": 0x5555}},
		"kernel/d/blk.ko":  {modinfo: []string{"alias=block-major-7-*", "alias=block-major-8-3", "alias=devname:sda"}},
		"kernel/d/lone.ko": {modinfo: []string{"alias=weird-name_with-dashes", "softdep=post: base", "alias=dup-alias", "alias=dup_alias"}},
	}
	cycle := map[string]synth{
		"kernel/x/a.ko": {exports: map[string]uint64{"fa": 1}, needs: []string{"fb"}},
		"kernel/x/b.ko": {exports: map[string]uint64{"fb": 2}, needs: []string{"fc"}},
		"kernel/x/c.ko": {exports: map[string]uint64{"fc": 3}, needs: []string{"fa"}},
		"kernel/x/d.ko": {needs: []string{"fa"}},
		"kernel/x/e.ko": {exports: map[string]uint64{"fe": 3}},
		"kernel/x/f.ko": {needs: []string{"fe", "fb"}},
	}
	for _, tc := range []struct {
		name string
		mods map[string]synth
		args []string
		o    Options
		want string
	}{
		{"symvers", good, []string{"-e", "-E", symvers}, Options{ErrSyms: true, Symvers: symvers}, "disagrees about version of symbol kernel_sym"},
		{"sysmap", good, []string{"-e", "-F", sysmap}, Options{ErrSyms: true, SystemMap: sysmap}, "needs unknown symbol missing_sym"},
		{"warn dups", good, []string{"-w"}, Options{WarnDups: true}, "duplicate module alias"},
		{"prefix", good, []string{"-P", "b", "-e", "-F", sysmap}, Options{SymPrefix: 'b', ErrSyms: true, SystemMap: sysmap}, "unknown symbol"},
		{"cycle", cycle, nil, Options{}, "Cycle detected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := writeSynth(t, tc.mods)
			cfg := filepath.Join(base, "noconf")
			tc.o.ConfigPaths = []string{cfg}
			kmod := runKmod(t, base, fxKver, append([]string{"-C", cfg}, tc.args...)...)
			same(t, kmod, runGo(t, base, fxKver, tc.o))
			if !strings.Contains(string(kmod.files["modules.devname"])+string(kmod.files["modules.dep"])+kmod.stderr, tc.want) {
				t.Errorf("kmod's output lacks %q:\n%s", tc.want, kmod.stderr)
			}
		})
	}
}
