package preflight

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Export is a symbol the kernel or a module exports.
type Export struct {
	Name      string
	Module    string // "vmlinux" for the kernel image
	GPLOnly   bool   // EXPORT_SYMBOL_GPL; meaningful when KindKnown
	KindKnown bool
	CRC       uint32 // meaningful when HasCRC
	HasCRC    bool
	CRCKnown  bool // HasCRC says whether the exporter has a CRC
	Namespace string
	nsKnown   bool // Namespace is known though the kind is not
}

// ParseSymvers reads Module.symvers: "CRC\tSYMBOL\tMODULE\tKIND[\tNAMESPACE]"
// per line, as modpost writes it (Linux 5.9+ order).
func ParseSymvers(r io.Reader) (exports map[string]Export, err error) {
	defer func() {
		if p := recover(); p != nil {
			exports, err = nil, fmt.Errorf("%w: Module.symvers: %v", ErrSyntax, p)
		}
	}()
	exports = map[string]Export{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 4 || len(f) > 5 {
			return nil, fmt.Errorf("%w: Module.symvers line %d: %d fields", ErrSyntax, n, len(f))
		}
		crc, err := strconv.ParseUint(strings.TrimPrefix(f[0], "0x"), 16, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: Module.symvers line %d: CRC %q", ErrSyntax, n, f[0])
		}
		e := Export{Name: f[1], Module: f[2], KindKnown: true, CRC: uint32(crc), HasCRC: true, CRCKnown: true}
		switch f[3] {
		case "EXPORT_SYMBOL":
		case "EXPORT_SYMBOL_GPL":
			e.GPLOnly = true
		default:
			return nil, fmt.Errorf("%w: Module.symvers line %d: export kind %q", ErrSyntax, n, f[3])
		}
		if len(f) == 5 {
			e.Namespace = f[4]
		}
		exports[e.Name] = e
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read Module.symvers: %w", err)
	}
	return exports, nil
}
