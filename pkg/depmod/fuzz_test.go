package depmod

import (
	"strings"
	"testing"

	"github.com/gokmod/gokmod/pkg/modfile"
)

// FuzzSymbols runs the symbol and .modinfo readers, without decode's
// recover guard, on arbitrary module bytes: they may find nothing, but
// must not panic.
func FuzzSymbols(f *testing.F) {
	f.Add(synth{modinfo: []string{"alias=x"}, exports: map[string]uint64{"a": 1}, needs: []string{"b", "~c"},
		versions: [][2]any{{"b", uint64(2)}, {"module_layout", uint64(3)}}}.bytes())
	f.Add(synth{}.bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		mf, err := modfile.NewFileBytes(data)
		if err != nil {
			return
		}
		e := &elfSyms{f: mf, order: mf.ByteOrder(), wide: mf.Class() == modfile.Class64}
		e.exports()
		e.needs()
		if info, err := mf.SectionView(".modinfo"); err == nil {
			cstrings(info)
		}
	})
}

// FuzzConfig parses arbitrary depmod.d lines.
func FuzzConfig(f *testing.F) {
	f.Add("search updates built-in external\noverride m * extra\nexternal 6.* /x\nexclude d\\\n e\n")
	f.Add("override a (b\nexternal [ /y\ninclude z\n")
	f.Fuzz(func(t *testing.T, text string) {
		c := &config{}
		for i, line := range strings.Split(text, "\n") {
			c.parseLine(line, "fuzz.conf", i+1, "6.1.0-1-amd64", &logger{})
		}
		c.excluded("x")
	})
}
