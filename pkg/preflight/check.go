package preflight

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/loader"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
)

// maxModule caps a module decompressed for a check.
const maxModule = loader.DefaultMaxSize

// Check reads the module file at path and checks it against t with the
// parameter string params (as loader.JoinParams makes it).
func Check(path, params string, t *Target) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxModule+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxModule {
		return nil, fmt.Errorf("read %s: %w", path, ErrTooLarge)
	}
	r := CheckImage(data, params, t)
	r.File = path
	return r, nil
}

// CheckImage checks a module image (plain or compressed) against t.
func CheckImage(data []byte, params string, t *Target) *Report {
	c := &checker{t: t, params: params}
	r := &Report{Target: t.Name}
	image, res := c.decompress(data)
	r.Steps = append(r.Steps, res)
	if image == nil {
		for _, s := range Steps[1:] {
			r.Steps = append(r.Steps, Result{Step: s, Detail: "the module could not be decompressed"})
		}
		r.decide()
		return r
	}
	r.Steps = append(r.Steps, c.signature(image))
	f, res := c.elf(image)
	r.Steps = append(r.Steps, res)
	if f == nil {
		for _, s := range Steps[3:] {
			r.Steps = append(r.Steps, Result{Step: s, Detail: "not a module the kernel can read"})
		}
		r.decide()
		return r
	}
	r.Module = c.name
	r.Steps = append(r.Steps, c.modversions(), c.vermagic(), c.loaded(), c.symbols(), c.parameters(), c.sysfs())
	r.decide()
	return r
}

type checker struct {
	t      *Target
	params string

	f        *modfile.File
	name     string
	info     modfile.Info
	versions map[string]uint32 // __versions; nil when the section is absent
	exports  map[string]map[string]Export
}

func (c *checker) decompress(data []byte) ([]byte, Result) {
	res := Result{Step: StepDecompress}
	format := compression.Detect(data)
	if format == compression.None {
		res.Verdict, res.Detail = Passed, "plain module: finit_module"
		return data, res
	}
	image, _, err := compression.Decompress(bytes.NewReader(data), maxModule)
	if err != nil {
		// The loader decompresses in userspace when the kernel cannot
		// or will not, and gives up with this error.
		res.Verdict, res.Detail = Failed, fmt.Sprintf("%s: decompress %s: %v", format, format, err)
		return nil, res
	}
	res.Verdict = Passed
	if !c.t.CompressionKnown {
		res.Detail = fmt.Sprintf("%s: decompressed by the kernel (finit_module with MODULE_INIT_COMPRESSED_FILE) if it can, else in userspace (init_module)", format)
		return image, res
	}
	step := loader.Plan(loader.Situation{Format: format, Kernel: c.t.Compression})
	if step.Syscall == loader.FinitModule {
		res.Detail = fmt.Sprintf("%s: the kernel decompresses it: finit_module with MODULE_INIT_COMPRESSED_FILE (in userspace if it refuses)", format)
	} else {
		k := "none"
		if c.t.Compression != compression.None {
			k = c.t.Compression.String()
		}
		res.Detail = fmt.Sprintf("%s: /sys/module/compression is %s: decompressed in userspace, init_module", format, k)
	}
	return image, res
}

// signature replays module_sig_check: a good signature passes; an
// unsigned module, one with a key the kernel lacks or with crypto it does
// not support is refused with EKEYREJECTED under enforcement and allowed
// (tainting the kernel) otherwise, unless lockdown forbids it; a
// signature that does not verify is refused either way.
func (c *checker) signature(image []byte) Result {
	res := Result{Step: StepSignature}
	t := c.t
	if t.SigCheck == No {
		res.Verdict, res.Detail = Passed, "the kernel does not check module signatures (no CONFIG_MODULE_SIG)"
		return res
	}
	_, sig, err := modsig.Split(image)
	if err != nil {
		res.Verdict, res.Detail = Failed, fmt.Sprintf("malformed signature: %v; the kernel returns EBADMSG or EINVAL", err)
		return res
	}
	var reason, detail string
	switch {
	case sig == nil:
		reason, detail = "unsigned module", "unsigned"
	case sig.IDType != modsig.PKCS7:
		reason, detail = "module with unsupported crypto", "signature is not PKCS#7"
	default:
		_, cert, err := cms.Verify(image, t.Certs)
		switch {
		case err == nil:
			res.Verdict, res.Detail = Passed, fmt.Sprintf("signed by %q, a key the kernel trusts; the signature verifies", sig.Signer)
			return res
		case errors.Is(err, cms.ErrUnknownSigner) && t.CertsComplete:
			reason, detail = "module with unavailable key", fmt.Sprintf("signed by %q, a key the kernel's keyrings do not hold", sig.Signer)
		case errors.Is(err, cms.ErrUnknownSigner):
			res.Detail = fmt.Sprintf("signed by %q: whether the kernel trusts this key cannot be told (its keyrings list keys by name only); give the certificate", sig.Signer)
			return res
		case errors.Is(err, cms.ErrBadSignature) && cert != nil && t.SigEnforce == Yes:
			res.Verdict, res.Errno = Failed, syscall.EKEYREJECTED
			res.Detail = fmt.Sprintf("signed by %q, but the signature does not verify: %v", sig.Signer, err)
			return res
		default:
			res.Detail = fmt.Sprintf("signed by %q: %v", sig.Signer, err)
			return res
		}
	}
	switch t.SigEnforce {
	case Yes:
		res.Verdict, res.Errno = Failed, syscall.EKEYREJECTED
		res.Kernel = []string{"Loading of " + reason + " is rejected"}
		res.Detail = detail + "; the kernel enforces signatures"
		return res
	case Maybe:
		res.Detail = detail + "; whether the kernel enforces signatures cannot be told (module.sig_enforce)"
		return res
	}
	switch t.Lockdown {
	case "none":
		res.Verdict, res.Detail = Passed, detail+"; not enforced: the kernel loads it and taints itself (E)"
	case "integrity", "confidentiality":
		res.Verdict, res.Errno = Failed, syscall.EPERM
		res.Kernel = []string{"Lockdown: insmod: unsigned module loading is restricted; see man kernel_lockdown.7"}
		res.Detail = detail + "; the kernel is locked down (" + t.Lockdown + ")"
	default:
		res.Detail = detail + "; not enforced, but whether the kernel is locked down cannot be told (mount securityfs)"
	}
	return res
}

// elf replays elf_validity_check and setup_load_info: every failure is
// ENOEXEC.
func (c *checker) elf(image []byte) (*modfile.File, Result) {
	res := Result{Step: StepELF}
	fail := func(line, detail string) (*modfile.File, Result) {
		res.Verdict, res.Errno, res.Detail = Failed, syscall.ENOEXEC, detail
		if line != "" {
			res.Kernel = []string{line}
		}
		return nil, res
	}
	hdr := 64
	if len(image) > elf.EI_CLASS && elf.Class(image[elf.EI_CLASS]) == elf.ELFCLASS32 {
		hdr = 52
	}
	if len(image) < hdr {
		return fail(fmt.Sprintf("Invalid ELF header len %d", len(image)), "too short for an ELF header")
	}
	if !bytes.HasPrefix(image, []byte(elf.ELFMAG)) {
		return fail("Invalid ELF header magic: != \x7fELF", "not an ELF file")
	}
	var order binary.ByteOrder = binary.LittleEndian
	if elf.Data(image[elf.EI_DATA]) == elf.ELFDATA2MSB {
		order = binary.BigEndian
	}
	if typ := order.Uint16(image[16:]); elf.Type(typ) != elf.ET_REL {
		return fail(fmt.Sprintf("Invalid ELF header type: %d != %d", typ, elf.ET_REL), "not a relocatable object")
	}
	machine := elf.Machine(order.Uint16(image[18:]))
	if c.t.Machine != 0 && machine != c.t.Machine {
		return fail(fmt.Sprintf("Invalid architecture in ELF header: %d", machine), fmt.Sprintf("built for %v, the kernel is %v", machine, c.t.Machine))
	}
	f, err := modfile.NewFileBytes(image)
	if err != nil {
		return fail("", err.Error())
	}
	info, err := f.Info()
	if err != nil && !errors.Is(err, modfile.ErrNotModule) {
		return fail("", err.Error())
	}
	c.f, c.info = f, info
	name, _ := info.Value("name")
	if _, ok := f.Section(".gnu.linkonce.this_module"); !ok {
		if name == "" {
			name = "(missing .modinfo name field)"
		}
		return fail(name+": No module found in object", "no .gnu.linkonce.this_module section")
	}
	if name == "" {
		if name, err = f.Name(); err != nil {
			return fail("", err.Error())
		}
	}
	c.name = name
	if s, ok := f.Section(".symtab"); !ok || s.Size == 0 {
		return fail(name+": module has no symbols (stripped?)", "no symbol table")
	}
	if c.t.Blacklist[name] {
		res.Verdict, res.Errno, res.Detail = Failed, syscall.EPERM, "module_blacklist= on the kernel command line names it"
		res.Kernel = []string{"Module " + name + " is blacklisted"}
		return nil, res
	}
	vs, err := f.Versions()
	if err != nil {
		return fail("", err.Error())
	}
	if _, ok := f.Section("__versions"); ok {
		c.versions = map[string]uint32{}
		for _, v := range vs {
			c.versions[v.Name] = uint32(v.CRC)
		}
	}
	res.Verdict = Passed
	res.Detail = fmt.Sprintf("ELF relocatable for %v", machine)
	if c.t.Blacklist == nil {
		res.Detail += "; module_blacklist= of the kernel command line not known"
	}
	return f, res
}

// crcCheck replays check_version for sym against the exporter's CRC:
// Passed, Failed, or Unknown with a reason.
func (c *checker) crcCheck(sym string, e Export) (Verdict, string) {
	if e.CRCKnown && !e.HasCRC {
		return Passed, ""
	}
	if c.versions == nil {
		// A module without __versions: try_to_force_load.
		switch {
		case !e.CRCKnown && c.t.Modversions == No:
			return Passed, ""
		case c.t.ForceLoad == Yes && (e.CRCKnown || c.t.Modversions == Yes):
			return Passed, "no symbol versions: the kernel loads it and taints itself (F)"
		case c.t.ForceLoad == No && (e.CRCKnown || c.t.Modversions == Yes):
			return Failed, "the module has no symbol versions and the kernel cannot force a load"
		}
		return Unknown, "the module has no symbol versions; whether the kernel has them cannot be told"
	}
	want, ok := c.versions[sym]
	if !ok {
		return Passed, "no symbol version for " + sym
	}
	if !e.CRCKnown {
		if c.t.Modversions == No {
			return Passed, ""
		}
		return Unknown, fmt.Sprintf("the CRC of %s in the kernel cannot be told (give its Module.symvers)", sym)
	}
	if want != e.CRC {
		return Failed, fmt.Sprintf("%s: module has CRC %#08x, the kernel %#08x", sym, want, e.CRC)
	}
	return Passed, ""
}

// modversions replays check_modstruct_version: the module's CRC of
// module_layout against the kernel's.
func (c *checker) modversions() Result {
	res := Result{Step: StepModversions}
	e, ok := c.t.KernelExports["module_layout"]
	if !ok && c.t.KernelExports != nil {
		// A kernel without the symbol checks nothing here.
		res.Verdict, res.Detail = Passed, "the kernel exports no module_layout"
		return res
	}
	if c.t.KernelExports == nil {
		e = Export{Name: "module_layout"}
	}
	v, why := c.crcCheck("module_layout", e)
	res.Verdict, res.Detail = v, why
	if v == Failed {
		res.Errno = syscall.ENOEXEC
		if c.versions != nil {
			res.Kernel = []string{c.name + ": disagrees about version of symbol module_layout"}
		}
	}
	if v == Passed && why == "" {
		if c.versions == nil {
			res.Detail = "the module has no symbol versions"
		} else {
			res.Detail = fmt.Sprintf("module_layout %#08x matches", c.versions["module_layout"])
		}
	}
	return res
}

// vermagic replays check_modinfo's version magic check.
func (c *checker) vermagic() Result {
	res := Result{Step: StepVermagic}
	magic, ok := c.info.Value("vermagic")
	if !ok {
		switch c.t.ForceLoad {
		case Yes:
			res.Verdict, res.Detail = Passed, "no version magic: the kernel loads it and taints itself (F)"
			res.Kernel = []string{c.name + ": bad vermagic: kernel tainted."}
		case No:
			res.Verdict, res.Errno, res.Detail = Failed, syscall.ENOEXEC, "no version magic, and the kernel cannot force a load"
		default:
			res.Detail = "no version magic: the kernel loads it only with CONFIG_MODULE_FORCE_LOAD, which cannot be told"
		}
		return res
	}
	if c.t.Vermagic == "" {
		res.Detail = fmt.Sprintf("the module's is %q; the kernel's cannot be told (give its build directory)", magic)
		return res
	}
	a, b := magic, c.t.Vermagic
	if c.versions != nil {
		// With symbol versions, the release is not compared.
		a, b = a[strings.IndexByte(a+" ", ' '):], b[strings.IndexByte(b+" ", ' '):]
	}
	if a != b {
		res.Verdict, res.Errno = Failed, syscall.ENOEXEC
		res.Detail = "the module was built for another kernel or configuration"
		res.Kernel = []string{fmt.Sprintf("%s: version magic '%s' should be '%s'", c.name, magic, c.t.Vermagic)}
		return res
	}
	res.Verdict, res.Detail = Passed, fmt.Sprintf("%q", magic)
	return res
}

// loaded replays add_unformed_module: a module of the same name that is
// loaded gives EEXIST.
func (c *checker) loaded() Result {
	res := Result{Step: StepLoaded}
	switch {
	case c.t.Loaded == nil:
		res.Detail = "the loaded modules cannot be told (/proc/modules)"
	case c.t.Loaded[c.name]:
		res.Verdict, res.Errno, res.Detail = Failed, syscall.EEXIST, c.name+" is already loaded"
	default:
		res.Verdict, res.Detail = Passed, c.name+" is not loaded"
	}
	return res
}

// gplCompatible is license_is_gpl_compatible's list.
var gplCompatible = map[string]bool{
	"GPL": true, "GPL v2": true, "GPL and additional rights": true,
	"Dual BSD/GPL": true, "Dual MIT/GPL": true, "Dual MPL/GPL": true,
}

// lookup finds who exports sym, as find_symbol searches: the kernel,
// then the loaded modules. found is Maybe when that cannot be told.
func (c *checker) lookup(sym string) (e Export, found Tri) {
	t := c.t
	switch ks := t.syms; {
	case t.KernelExports != nil:
		if e, ok := t.KernelExports[sym]; ok {
			return e, Yes
		}
		found = No
	case ks() != nil && ks().KsymtabListed:
		if ks().InKernel("__ksymtab_" + sym) {
			e := Export{Name: sym, Module: "vmlinux", CRCKnown: t.Modversions == No}
			e.nsKnown = ks().KstrtabnsListed && !ks().InKernel("__kstrtabns_"+sym)
			return e, Yes
		}
		found = No
	default:
		found = Maybe
	}
	if t.Loaded == nil {
		return Export{}, Maybe
	}
	mods := make([]string, 0, len(t.Loaded))
	for m := range t.Loaded {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	for _, m := range mods {
		if t.Tree != nil {
			if exps, err := c.moduleExports(m); err == nil {
				if e, ok := exps[sym]; ok {
					return e, Yes
				}
				continue
			}
		}
		switch ks := t.syms(); {
		case ks == nil:
			found = Maybe
		case ks.InModule(m, "__ksymtab_"+sym):
			return Export{Name: sym, Module: m}, Yes
		case !ks.KsymtabListed:
			found = Maybe
		}
	}
	return Export{}, found
}

// moduleExports reads the exports of module m's file in the tree.
func (c *checker) moduleExports(m string) (map[string]Export, error) {
	if e, ok := c.exports[m]; ok {
		if e == nil {
			return nil, fs.ErrNotExist
		}
		return e, nil
	}
	if c.exports == nil {
		c.exports = map[string]map[string]Export{}
	}
	c.exports[m] = nil
	f, err := c.t.Tree.open(m)
	if err != nil {
		return nil, err
	}
	exps, err := f.ExportedSymbols()
	if err != nil {
		return nil, err
	}
	out := make(map[string]Export, len(exps))
	for _, e := range exps {
		out[e.Name] = Export{Name: e.Name, Module: m, GPLOnly: e.GPLOnly, KindKnown: true,
			CRC: uint32(e.CRC), HasCRC: e.HasCRC, CRCKnown: true, Namespace: e.Namespace}
	}
	c.exports[m] = out
	return out, nil
}

// symbols replays simplify_symbols: every undefined symbol must resolve
// to an export the module may use, with a matching CRC and an imported
// namespace; the errno is the last failing symbol's.
func (c *checker) symbols() Result {
	res := Result{Step: StepSymbols}
	imports, err := c.f.UndefinedSymbols()
	if err != nil {
		res.Verdict, res.Errno, res.Detail = Failed, syscall.ENOEXEC, err.Error()
		return res
	}
	license, ok := c.info.Value("license")
	if !ok {
		license = "unspecified"
	}
	gplok := gplCompatible[license]
	namespaces := map[string]bool{}
	for _, ns := range c.info.Values("import_ns") {
		namespaces[ns] = true
	}
	var unknown, notes []string
	failed, resolved := 0, 0
	x86 := c.f.Machine() == uint16(elf.EM_X86_64) || c.f.Machine() == uint16(elf.EM_386)
	for _, imp := range imports {
		if x86 && imp.Name == "_GLOBAL_OFFSET_TABLE_" {
			continue
		}
		e, found := c.lookup(imp.Name)
		errno := syscall.Errno(0)
		switch {
		case found == Maybe:
			unknown = append(unknown, imp.Name+" (no export table to look it up in)")
			continue
		case found == No:
			if imp.Weak {
				continue
			}
			errno = syscall.ENOENT
			if p := c.providers(imp.Name); len(p) > 0 {
				if res.Providers == nil {
					res.Providers = map[string][]string{}
				}
				res.Providers[imp.Name] = p
				notes = append(notes, fmt.Sprintf("%s is exported by %s: load it first", imp.Name, strings.Join(p, " or ")))
			} else {
				notes = append(notes, imp.Name+" is exported by nothing loaded")
			}
		case !gplok && !e.KindKnown:
			unknown = append(unknown, imp.Name+" (whether it is exported GPL-only cannot be told)")
			continue
		case !gplok && e.GPLOnly:
			if imp.Weak {
				continue
			}
			errno = syscall.ENOENT
			notes = append(notes, fmt.Sprintf("%s is exported GPL-only (EXPORT_SYMBOL_GPL) and the module's license %q is not GPL-compatible", imp.Name, license))
		default:
			v, why := c.crcCheck(imp.Name, e)
			switch v {
			case Unknown:
				unknown = append(unknown, imp.Name+" ("+why+")")
				continue
			case Failed:
				errno = syscall.EINVAL
				if c.versions != nil {
					res.Kernel = append(res.Kernel, fmt.Sprintf("%s: disagrees about version of symbol %s", c.name, imp.Name))
				}
				notes = append(notes, why)
			default:
				if why != "" {
					notes = append(notes, why)
				}
				if e.Namespace != "" && !namespaces[e.Namespace] {
					errno = syscall.EINVAL
					res.Kernel = append(res.Kernel, fmt.Sprintf("%s: module uses symbol (%s) from namespace %s, but does not import it.", c.name, imp.Name, e.Namespace))
				} else if !e.KindKnown && !e.nsKnown {
					unknown = append(unknown, imp.Name+" (its namespace cannot be told)")
					continue
				}
			}
		}
		if errno == 0 {
			resolved++
			continue
		}
		failed++
		res.Errno = errno
		res.Kernel = append(res.Kernel, fmt.Sprintf("%s: Unknown symbol %s (err %d)", c.name, imp.Name, -int(errno)))
	}
	switch {
	case failed > 0:
		res.Verdict = Failed
		if len(unknown) > 0 {
			res.Errno = 0 // an unknown symbol could fail last, with another errno
			notes = append(notes, "cannot tell: "+strings.Join(unknown, ", "))
		}
	case len(unknown) > 0:
		notes = append(notes, "cannot tell: "+strings.Join(unknown, ", "))
	default:
		res.Verdict = Passed
		notes = append([]string{fmt.Sprintf("%d symbols resolve", resolved)}, notes...)
	}
	res.Detail = strings.Join(notes, "; ")
	return res
}

// providers names the modules that export sym but are not loaded.
func (c *checker) providers(sym string) []string {
	var out []string
	if c.t.Tree != nil {
		out = c.t.Tree.Providers(sym)
	}
	if e, ok := c.t.ModuleExports[sym]; ok && len(out) == 0 {
		out = append(out, e.Module[strings.LastIndexByte(e.Module, '/')+1:])
	}
	return out
}

// sysfs replays mod_sysfs_init: a built-in module of the same name with
// a /sys/module directory makes the load fail with EINVAL.
func (c *checker) sysfs() Result {
	res := Result{Step: StepSysfs}
	switch {
	case c.t.Builtin[c.name]:
		res.Verdict, res.Errno = Failed, syscall.EINVAL
		res.Kernel = []string{c.name + ": module is already loaded"}
		res.Detail = c.name + " is built into the kernel"
	case c.t.Builtin != nil:
		res.Verdict, res.Detail = Passed, "/sys/module/"+c.name+" is free"
	case c.t.Tree != nil:
		builtin, err := c.t.Tree.db.IsBuiltin(c.name)
		switch {
		case err != nil:
			res.Detail = "the kernel's built-in modules cannot be told: " + err.Error()
		case builtin:
			res.Detail = c.name + " is built into the kernel (modules.builtin): the load fails with EINVAL if it has a /sys/module directory"
		default:
			res.Verdict, res.Detail = Passed, c.name+" is not built in (modules.builtin)"
		}
	default:
		res.Detail = "the kernel's built-in modules cannot be told (/sys/module)"
	}
	return res
}
