package preflight

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Kallsyms is what /proc/kallsyms says about symbol names: which exist,
// in the kernel image or in which loaded module, and which are exported
// (their __ksymtab_ entry is listed, which needs CONFIG_KALLSYMS_ALL).
// Names are enough: the addresses, hidden without root, are not used.
type Kallsyms struct {
	kernel  map[string]bool            // names in the kernel image
	modules map[string]map[string]bool // module -> its names
	// KsymtabListed reports that __ksymtab_ entries of the kernel image
	// are listed (CONFIG_KALLSYMS_ALL): then a symbol without one is not
	// exported.
	KsymtabListed bool
	// KstrtabnsListed reports that __kstrtabns_ entries are listed
	// (Linux up to 6.4 with CONFIG_KALLSYMS_ALL): then a symbol without
	// one has no namespace.
	KstrtabnsListed bool
}

// ParseKallsyms reads /proc/kallsyms: "ADDRESS TYPE NAME [MODULE]".
func ParseKallsyms(r io.Reader) (k *Kallsyms, err error) {
	defer func() {
		if p := recover(); p != nil {
			k, err = nil, fmt.Errorf("%w: kallsyms: %v", ErrSyntax, p)
		}
	}()
	k = &Kallsyms{kernel: map[string]bool{}, modules: map[string]map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 || len(f) > 4 || len(f[1]) != 1 {
			return nil, fmt.Errorf("%w: kallsyms line %d: %q", ErrSyntax, n, sc.Text())
		}
		name := f[2]
		if len(f) == 3 {
			k.kernel[name] = true
			if strings.HasPrefix(name, "__ksymtab_") {
				k.KsymtabListed = true
			}
			if strings.HasPrefix(name, "__kstrtabns_") {
				k.KstrtabnsListed = true
			}
			continue
		}
		mod := strings.TrimSuffix(strings.TrimPrefix(f[3], "["), "]")
		if k.modules[mod] == nil {
			k.modules[mod] = map[string]bool{}
		}
		k.modules[mod][name] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read kallsyms: %w", err)
	}
	return k, nil
}

// InKernel reports whether the kernel image has a symbol called name.
func (k *Kallsyms) InKernel(name string) bool { return k.kernel[name] }

// InModule reports whether the loaded module mod has a symbol called name.
func (k *Kallsyms) InModule(mod, name string) bool { return k.modules[mod][name] }

// ModulesWith returns the loaded modules that have a symbol called name.
func (k *Kallsyms) ModulesWith(name string) []string {
	var out []string
	for m, syms := range k.modules {
		if syms[name] {
			out = append(out, m)
		}
	}
	return out
}
