package modprobe

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/gokmod/gokmod/pkg/moddb"
)

// DumpIndex writes the entries of an alias index (modules.alias or
// modules.symbols) as kmod's modprobe -c dumps them: "alias PATTERN
// MODULE" lines with patterns normalised ('-' made '_' outside brackets),
// sorted bytewise by pattern, a pattern's modules in index order.
func (p *Prober) DumpIndex(w io.Writer, name string) error {
	if ok, err := p.dumpBin(w, name); ok {
		return err
	}
	data, err := fs.ReadFile(os.DirFS(p.dir), name)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	type entry struct{ key, value string }
	var list []entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "alias" {
			continue
		}
		k, err := moddb.NormalizeAlias(f[1])
		if err != nil {
			continue
		}
		list = append(list, entry{k, f[2]})
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].key < list[j].key })
	bw := bufio.NewWriter(w)
	for _, e := range list {
		bw.WriteString("alias ")
		bw.WriteString(e.key)
		bw.WriteByte(' ')
		bw.WriteString(e.value)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
