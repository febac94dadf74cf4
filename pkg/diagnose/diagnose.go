package diagnose

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
)

// Load is a module load that failed, or that succeeded with warnings.
type Load struct {
	Name    string          // the module's name, as the kernel prefixes its messages
	Path    string          // the file given to the loader
	Err     error           // what the load returned; nil if it succeeded
	Kmsg    []kernel.Record // kernel log records logged while the load ran
	Release string          // the running kernel's release, "" if unknown
	License string          // the module's license, "" if unknown
	Params  []string        // parameter names the module declares, nil if unknown
	// SymbolOwner names the module that exports sym (modules.symbols), or "".
	SymbolOwner func(sym string) string
	// KernelSymbol reports whether the running kernel has sym (kallsyms);
	// nil when that cannot be known.
	KernelSymbol func(sym string) bool
}

var (
	reVermagic  = regexp.MustCompile(`version magic '([^']*)' should be '([^']*)'`)
	reDisagrees = regexp.MustCompile(`disagrees about version of symbol (\S+)`)
	reUnknown   = regexp.MustCompile(`Unknown symbol (\S+) \(err (-?\d+)\)`)
	reUnknownP  = regexp.MustCompile(`unknown parameter '([^']*)' ignored`)
	// kernel/params.c quotes with a backtick and an apostrophe.
	reInvalidP = regexp.MustCompile("[`']([^']*)' invalid for parameter [`']([^']*)'")
	reLicense  = regexp.MustCompile(`module license '([^']*)' taints kernel`)
)

// loaderMessages are kernel log lines about a load that do not start with
// the module's name.
var loaderMessages = []string{
	"Loading of ", "module verification failed", "Invalid ELF header",
	"decompression failed", "compressed module", "module_decompress",
	"Module has invalid ELF", "Module len ", "modsign", "PKCS7",
}

// Relevant returns the records that concern this load: those prefixed by
// the module's name and the module loader's own unprefixed messages.
func (l Load) Relevant() []kernel.Record {
	var out []kernel.Record
	for _, r := range l.Kmsg {
		if l.Name != "" && strings.HasPrefix(r.Message, l.Name+": ") {
			out = append(out, r)
			continue
		}
		for _, m := range loaderMessages {
			if strings.Contains(r.Message, m) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

func (l Load) find(re *regexp.Regexp) [][]string {
	var out [][]string
	for _, r := range l.Relevant() {
		if m := re.FindStringSubmatch(r.Message); m != nil {
			out = append(out, m)
		}
	}
	return out
}

func (l Load) has(s string) bool {
	for _, r := range l.Relevant() {
		if strings.Contains(r.Message, s) {
			return true
		}
	}
	return false
}

func (l Load) build() string {
	if l.Release != "" {
		return "/lib/modules/" + l.Release + "/build"
	}
	return "/lib/modules/$(uname -r)/build"
}

func (l Load) file() string {
	if l.Path != "" {
		return l.Path
	}
	return l.Name + ".ko"
}

// gplCompatible lists the licenses the kernel's license_is_gpl_compatible
// accepts.
var gplCompatible = map[string]bool{
	"GPL": true, "GPL v2": true, "GPL and additional rights": true,
	"Dual BSD/GPL": true, "Dual MIT/GPL": true, "Dual MPL/GPL": true,
}

// Hint returns one sentence saying what to do, or "" when there is
// nothing useful to say.
func (l Load) Hint() string {
	if m := l.find(reVermagic); len(m) > 0 {
		return fmt.Sprintf("%s was built for kernel %q but this kernel is %q: rebuild it against the running kernel's headers (make -C %s M=$PWD modules), or force it with --force-vermagic where the kernel allows forced loads",
			l.Name, m[0][1], m[0][2], l.build())
	}
	if m := l.find(reDisagrees); len(m) > 0 {
		sym := m[0][1]
		if sym == "module_layout" {
			return fmt.Sprintf("%s was built for another kernel (its module_layout symbol version differs): rebuild it against %s", l.Name, l.build())
		}
		return fmt.Sprintf("%s was built against a kernel whose %s has another symbol version (CONFIG_MODVERSIONS): rebuild it against %s, or force it with --force-modversion", l.Name, sym, l.build())
	}
	if m := l.find(reUnknown); len(m) > 0 {
		return l.unknownSymbol(m)
	}
	if l.has("Loading of unsigned module is rejected") {
		return fmt.Sprintf("this kernel enforces module signatures (module.sig_enforce=1 or CONFIG_MODULE_SIG_FORCE) and %s is unsigned: sign it with a key the kernel trusts, e.g. gokmodsign sha256 KEY.priv KEY.der %s", l.file(), l.file())
	}
	if l.has("unavailable key is rejected") {
		return fmt.Sprintf("this kernel enforces module signatures and %s is signed with a key it does not trust: sign it with a key in the kernel's trusted keyrings (gokmodsign sha256 KEY.priv KEY.der %s), or enroll your certificate", l.file(), l.file())
	}
	if m := l.find(reInvalidP); len(m) > 0 {
		return fmt.Sprintf("%q is not a valid value for parameter %s of %s: gomodinfo -F parm %s shows each parameter's type", m[0][1], m[0][2], l.Name, l.file())
	}
	if m := l.find(reUnknownP); len(m) > 0 {
		var names []string
		for _, x := range m {
			names = append(names, x[1])
		}
		s := fmt.Sprintf("%s has no parameter %s; the kernel ignored it", l.Name, strings.Join(names, ", "))
		if len(l.Params) > 0 {
			s += "; it takes: " + strings.Join(l.Params, ", ")
		} else if l.Params != nil {
			s += "; it takes no parameters"
		}
		return s + " (gomodinfo -F parm " + l.file() + ")"
	}
	switch {
	case l.Err == nil:
		return ""
	case errors.Is(l.Err, kernel.ErrExist):
		return fmt.Sprintf("%s is already loaded (golsmod lists it); to load it again, e.g. with other parameters, remove it first: gormmod %s", l.Name, l.Name)
	case errors.Is(l.Err, kernel.ErrPerm):
		return "loading a module needs CAP_SYS_MODULE: run it as root (sudo); if you are root, module loading is disabled (/proc/sys/kernel/modules_disabled) or locked down"
	case errors.Is(l.Err, kernel.ErrKeyRejected):
		return fmt.Sprintf("the kernel rejected the signature of %s: sign it with a key the kernel trusts (gokmodsign sha256 KEY.priv KEY.der %s)", l.file(), l.file())
	case errors.Is(l.Err, kernel.ErrNoExec):
		return fmt.Sprintf("%s is not a kernel module this kernel can load: check it with gomodinfo %s, and that it was built for this kernel (%s)", l.file(), l.file(), l.build())
	case errors.Is(l.Err, kernel.ErrNotSupported):
		return "this kernel cannot load modules this way (no module support, or no in-kernel decompression for this format)"
	case errors.Is(l.Err, kernel.ErrInvalid):
		return fmt.Sprintf("the kernel rejected the parameters or the module; check them with gomodinfo -F parm %s", l.file())
	case errors.Is(l.Err, kernel.ErrBusy):
		return fmt.Sprintf("%s is being loaded or removed right now; try again", l.Name)
	}
	return ""
}

func (l Load) unknownSymbol(m [][]string) string {
	var syms []string
	for _, x := range m {
		syms = append(syms, x[1])
	}
	sym := syms[0]
	list := strings.Join(syms, ", ")
	license := l.License
	if license == "" {
		if lic := l.find(reLicense); len(lic) > 0 {
			license = lic[0][1]
		}
	}
	if license != "" && !gplCompatible[license] {
		switch {
		case l.KernelSymbol == nil:
			return fmt.Sprintf("%s's license %q is not GPL-compatible, so GPL-only symbols (EXPORT_SYMBOL_GPL) are hidden from it; if %s is one, declare a GPL-compatible MODULE_LICENSE", l.Name, license, list)
		case l.KernelSymbol(sym):
			return fmt.Sprintf("%s exists but is exported GPL-only (EXPORT_SYMBOL_GPL) and %s's license %q is not GPL-compatible: declare a GPL-compatible MODULE_LICENSE, or do without %s", sym, l.Name, license, sym)
		}
	}
	if l.SymbolOwner != nil {
		if owner := l.SymbolOwner(sym); owner != "" {
			return fmt.Sprintf("%s is exported by module %s (modules.symbols): load %s first (modprobe %s, or goinsmod its .ko), then %s", sym, owner, owner, owner, l.Name)
		}
	}
	return fmt.Sprintf("no loaded module and no part of this kernel exports %s: load the module that provides it first, or rebuild %s against this kernel (%s)", list, l.Name, l.build())
}

// Unload is a module removal that failed.
type Unload struct {
	Name string
	Err  error
}

// Hint returns one sentence saying what to do, or "".
func (u Unload) Hint() string {
	var iu *loader.InUseError
	switch {
	case errors.As(u.Err, &iu) && len(iu.Holders) > 0:
		return fmt.Sprintf("%s uses %s: remove the users first, in order: gormmod %s %s", strings.Join(iu.Holders, ", "), u.Name, strings.Join(iu.Holders, " "), u.Name)
	case errors.Is(u.Err, loader.ErrInUse), errors.Is(u.Err, kernel.ErrWouldBlock), errors.Is(u.Err, kernel.ErrBusy):
		return fmt.Sprintf("something still holds a reference to %s (an open device or file, a mount, a socket): stop it and retry; gormmod -f forces it where the kernel allows (CONFIG_MODULE_FORCE_UNLOAD) and may crash the machine", u.Name)
	case errors.Is(u.Err, loader.ErrBuiltin):
		return fmt.Sprintf("%s is built into the kernel and cannot be unloaded; set its parameters on the kernel command line (%s.PARAM=VALUE)", u.Name, u.Name)
	case errors.Is(u.Err, loader.ErrNotLoaded), errors.Is(u.Err, kernel.ErrNotExist):
		return "golsmod lists the loaded modules (names use '_' where files use '-')"
	case errors.Is(u.Err, kernel.ErrPerm):
		return "removing a module needs CAP_SYS_MODULE: run it as root (sudo)"
	case errors.Is(u.Err, loader.ErrNoUnload):
		return "this kernel was built without CONFIG_MODULE_UNLOAD: modules stay until the next boot"
	}
	return ""
}
