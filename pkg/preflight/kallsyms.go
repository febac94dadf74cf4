package preflight

import (
	"fmt"
	"io"
	"strings"

	"github.com/gokmod/gokmod/pkg/ksym"
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

// ParseKallsyms reads /proc/kallsyms (or a System.map): "ADDRESS TYPE NAME
// [MODULE]", addresses hidden or not.
func ParseKallsyms(r io.Reader) (*Kallsyms, error) {
	k := &Kallsyms{kernel: map[string]bool{}, modules: map[string]map[string]bool{}}
	err := ksym.Scan(r, func(s ksym.Symbol) error {
		if s.Module == "" {
			k.kernel[s.Name] = true
			k.KsymtabListed = k.KsymtabListed || strings.HasPrefix(s.Name, "__ksymtab_")
			k.KstrtabnsListed = k.KstrtabnsListed || strings.HasPrefix(s.Name, "__kstrtabns_")
			return nil
		}
		if k.modules[s.Module] == nil {
			k.modules[s.Module] = map[string]bool{}
		}
		k.modules[s.Module][s.Name] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: kallsyms: %w", ErrSyntax, err)
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
