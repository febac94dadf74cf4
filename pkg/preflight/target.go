package preflight

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/moddb"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
	"github.com/gokmod/gokmod/pkg/sysmod"
)

// Tri is a yes/no that may be unknown.
type Tri int

// The three states of a Tri; the zero value is Maybe.
const (
	Maybe Tri = iota
	No
	Yes
)

func tri(b bool) Tri {
	if b {
		return Yes
	}
	return No
}

// Target is the kernel a module is checked against. Live and Offline
// fill it in; a caller may change any field before Check.
type Target struct {
	Name     string      // how reports name it: "running kernel", a build directory
	Release  string      // UTS_RELEASE
	Vermagic string      // the kernel's VERMAGIC_STRING, "" if unknown
	Machine  elf.Machine // the ELF machine modules must have, 0 if unknown

	// Compression is the format the kernel decompresses itself
	// (/sys/module/compression); None when it cannot. Meaningful when
	// CompressionKnown.
	Compression      compression.Format
	CompressionKnown bool

	SigCheck   Tri    // CONFIG_MODULE_SIG: the kernel checks signatures at all
	SigEnforce Tri    // unsigned or untrusted modules are refused
	Lockdown   string // "none", "integrity", "confidentiality"; "" if unknown
	// Certs are certificates the kernel trusts for modules. CertsComplete
	// says they are all it trusts (the keyrings list no other key).
	Certs         []*x509.Certificate
	CertsComplete bool

	// Blacklist holds the names of module_blacklist= on the kernel's
	// command line; nil when the command line is not known (offline),
	// which the elf step notes.
	Blacklist map[string]bool

	Modversions Tri // CONFIG_MODVERSIONS
	ForceLoad   Tri // CONFIG_MODULE_FORCE_LOAD

	// KernelExports are the exports of the kernel image (Module.symvers's
	// vmlinux lines); nil if unknown. Kallsyms stands in when nil.
	KernelExports map[string]Export
	// Kallsyms is /proc/kallsyms (or a System.map), nil if unknown; Live
	// reads it when first needed.
	Kallsyms     *Kallsyms
	kallsymsRoot fs.FS

	// Loaded is the set of loaded modules (nil if unknown, empty for an
	// offline target: a freshly booted kernel). Builtin names the
	// built-in modules that have a /sys/module directory (nil if
	// unknown).
	Loaded  map[string]bool
	Builtin map[string]bool
	// ModuleExports are exports of modules that are not loaded (in-tree
	// modules of Module.symvers): a symbol found only here resolves once
	// its module is loaded.
	ModuleExports map[string]Export

	// Tree is the kernel's module directory, nil if none: it names
	// providers of missing symbols and the files of loaded modules, whose
	// exports Check reads.
	Tree *Tree
}

// Tree is a kernel's module directory, lib/modules/RELEASE: modules.dep,
// modules.symbols and the module files they name.
type Tree struct {
	fsys fs.FS
	db   *moddb.DB
}

// NewTree returns the module directory fsys.
func NewTree(fsys fs.FS) *Tree { return &Tree{fsys: fsys, db: moddb.New(fsys, ".")} }

// Providers returns the modules that export sym (modules.symbols).
func (t *Tree) Providers(sym string) []string {
	mods, err := t.db.Symbol(sym)
	if err != nil {
		return nil
	}
	return mods
}

// open reads the file of the module called name (modules.dep).
func (t *Tree) open(name string) (*modfile.File, error) {
	m, err := t.db.Lookup(name)
	if err != nil {
		return nil, err
	}
	p := strings.TrimPrefix(path.Clean(m.Path), "/")
	data, err := fs.ReadFile(t.fsys, p)
	if err != nil {
		return nil, err
	}
	raw, _, err := compression.Decompress(bytes.NewReader(data), maxModule)
	if err != nil {
		return nil, err
	}
	return modfile.NewFileBytes(raw)
}

// LiveOptions adds to what Live reads from the system.
type LiveOptions struct {
	// Build is the kernel's build directory (default
	// lib/modules/RELEASE/build under the root, when it exists): its
	// Module.symvers gives export kinds and CRCs, its config the
	// vermagic.
	Build fs.FS
	// Tree is the module directory (default lib/modules/RELEASE).
	Tree *Tree
	// Certs are certificates the caller knows the kernel trusts.
	Certs []*x509.Certificate
}

// Live reads the running kernel's side of the checks from root, a file
// system rooted at the system's "/" (/proc, /sys): the release from
// /proc/sys/kernel/osrelease, /sys/module/compression, sig_enforce,
// lockdown, /proc/keys, /proc/kallsyms, /proc/modules and /sys/module.
// What it cannot read stays unknown.
func Live(root fs.FS, opts LiveOptions) (*Target, error) {
	t := &Target{Name: "running kernel", Machine: hostMachine(), Certs: opts.Certs}
	if b, err := fs.ReadFile(root, "proc/sys/kernel/osrelease"); err == nil {
		t.Release = strings.TrimSpace(string(b))
	}
	if _, err := fs.Stat(root, "sys/module"); err == nil {
		t.CompressionKnown = true
		t.Compression = formatNamed(sysmod.Compression(root))
	}
	switch b, err := fs.ReadFile(root, "sys/module/module/parameters/sig_enforce"); {
	case err == nil:
		t.SigCheck, t.SigEnforce = Yes, tri(strings.TrimSpace(string(b)) == "Y")
	case errors.Is(err, fs.ErrNotExist):
		if _, serr := fs.Stat(root, "sys/module"); serr == nil {
			t.SigCheck, t.SigEnforce = No, No // no CONFIG_MODULE_SIG
		}
	}
	t.Lockdown = liveLockdown(root)
	if b, err := fs.ReadFile(root, "proc/cmdline"); err == nil {
		t.Blacklist = map[string]bool{}
		for _, arg := range strings.Fields(string(b)) {
			if v, ok := strings.CutPrefix(arg, "module_blacklist="); ok {
				for _, m := range strings.Split(v, ",") {
					t.Blacklist[m] = true
				}
			}
		}
	}
	t.kallsymsRoot = root
	if f, err := root.Open("proc/modules"); err == nil {
		entries, perr := sysmod.ParseProcModules(f)
		f.Close()
		if perr == nil {
			t.Loaded = map[string]bool{}
			for _, e := range entries {
				t.Loaded[e.Name] = true
			}
		}
	}
	if ents, err := fs.ReadDir(root, "sys/module"); err == nil && t.Loaded != nil {
		t.Builtin = map[string]bool{}
		for _, e := range ents {
			if !t.Loaded[e.Name()] {
				if st, err := sysmod.GetState(root, e.Name()); err == nil && st == sysmod.Builtin {
					t.Builtin[e.Name()] = true
				}
			}
		}
	}
	t.Tree = opts.Tree
	if t.Tree == nil && t.Release != "" {
		dir := path.Join("lib/modules", t.Release)
		if sub, err := fs.Sub(root, dir); err == nil {
			if _, err := fs.Stat(sub, "modules.dep"); err == nil {
				t.Tree = NewTree(sub)
			}
		}
	}
	build := opts.Build
	if build == nil && t.Release != "" {
		if sub, err := fs.Sub(root, path.Join("lib/modules", t.Release, "build")); err == nil {
			if _, err := fs.Stat(sub, "Module.symvers"); err == nil {
				build = sub
			}
		}
	}
	if build != nil {
		b, err := readBuild(build)
		if err != nil {
			return nil, err
		}
		// A build directory of another kernel says nothing about this one.
		if b.release == t.Release || t.Release == "" {
			t.KernelExports, t.ModuleExports = b.kernel, b.modules
			t.Modversions, t.ForceLoad = b.modversions, b.forceLoad
			t.Certs = append(t.Certs, b.certs...)
			t.Vermagic = b.vermagic
		}
	}
	if t.Vermagic == "" && t.Tree != nil {
		t.Vermagic = treeVermagic(t.Tree)
	}
	if f, err := root.Open("proc/keys"); err == nil {
		descs, perr := ParseProcKeys(f)
		f.Close()
		if perr == nil && len(descs) > 0 && len(t.Certs) > 0 {
			t.CertsComplete = listed(descs, t.Certs)
		}
	}
	return t, nil
}

// liveLockdown reads /sys/kernel/security/lockdown ("none [integrity]
// confidentiality"). A kernel without securityfs has no lockdown; one
// whose securityfs is not mounted cannot be asked.
func liveLockdown(root fs.FS) string {
	b, err := fs.ReadFile(root, "sys/kernel/security/lockdown")
	if err == nil {
		s := string(b)
		if i := strings.IndexByte(s, '['); i >= 0 {
			if j := strings.IndexByte(s[i:], ']'); j > 0 {
				return s[i+1 : i+j]
			}
		}
		return ""
	}
	if _, err := fs.Stat(root, "sys/kernel/security"); errors.Is(err, fs.ErrNotExist) {
		if _, serr := fs.Stat(root, "sys/kernel"); serr == nil {
			return "none"
		}
		return ""
	}
	// securityfs mounted without a lockdown file: no lockdown LSM.
	if ents, err := fs.ReadDir(root, "sys/kernel/security"); err == nil && len(ents) > 0 {
		return "none"
	}
	return ""
}

// OfflineOptions adds to what Offline reads from the build directory.
type OfflineOptions struct {
	Tree      *Tree               // the kernel's module directory, nil if none
	Loaded    []string            // modules assumed loaded (their files are in Tree); none by default
	SystemMap fs.File             // System.map, to find symbols Module.symvers lacks; optional
	Certs     []*x509.Certificate // more certificates the kernel trusts
	// SigEnforce and Lockdown say how the kernel is booted
	// (module.sig_enforce=, lockdown=), which a build directory cannot
	// tell: Maybe and "" leave them unknown unless the config forces them.
	SigEnforce Tri
	Lockdown   string
}

// Offline reads a kernel's build directory (or headers package): the
// release (include/generated/utsrelease.h), the config
// (include/config/auto.conf) for the vermagic and the checks the kernel
// makes, Module.symvers for the exports, and the certificates built into
// the kernel (certs/signing_key.x509, CONFIG_SYSTEM_TRUSTED_KEYS). The
// target has no module loaded: a freshly booted kernel.
func Offline(build fs.FS, name string, opts OfflineOptions) (*Target, error) {
	b, err := readBuild(build)
	if err != nil {
		return nil, err
	}
	if b.release == "" {
		return nil, ErrNoRelease
	}
	t := &Target{
		Name: name, Release: b.release, Vermagic: b.vermagic, Machine: b.machine,
		KernelExports: b.kernel, ModuleExports: b.modules,
		Modversions: b.modversions, ForceLoad: b.forceLoad,
		Loaded: map[string]bool{}, Tree: opts.Tree, Builtin: nil,
		CompressionKnown: b.config != nil,
		Compression:      b.decompress,
		SigCheck:         b.sigCheck,
		Certs:            append(b.certs, opts.Certs...),
	}
	for _, m := range opts.Loaded {
		t.Loaded[m] = true
	}
	if b.sigCheck == No {
		t.SigEnforce = No
	} else if b.config["CONFIG_MODULE_SIG_FORCE"] == "y" {
		t.SigEnforce = Yes
	}
	if t.SigEnforce == Maybe && b.sigCheck == Yes {
		t.SigEnforce = opts.SigEnforce
	}
	if b.config != nil && b.config["CONFIG_SECURITY_LOCKDOWN_LSM"] != "y" {
		t.Lockdown = "none"
	} else if opts.Lockdown != "" {
		t.Lockdown = opts.Lockdown
	}
	if t.Vermagic == "" && t.Tree != nil {
		t.Vermagic = treeVermagic(t.Tree)
	}
	if opts.SystemMap != nil && t.KernelExports == nil {
		k, err := ParseKallsyms(opts.SystemMap)
		if err != nil {
			return nil, fmt.Errorf("read System.map: %w", err)
		}
		t.Kallsyms = k
	}
	return t, nil
}

// syms returns the kernel's symbol names, reading /proc/kallsyms when
// first asked.
func (t *Target) syms() *Kallsyms {
	if t.Kallsyms == nil && t.kallsymsRoot != nil {
		if f, err := t.kallsymsRoot.Open("proc/kallsyms"); err == nil {
			if k, err := ParseKallsyms(f); err == nil {
				t.Kallsyms = k
			}
			f.Close()
		}
		t.kallsymsRoot = nil
	}
	return t.Kallsyms
}

// build is what a build directory says.
type build struct {
	release, vermagic string
	machine           elf.Machine
	config            map[string]string
	kernel, modules   map[string]Export
	modversions       Tri
	forceLoad         Tri
	sigCheck          Tri
	decompress        compression.Format
	certs             []*x509.Certificate
}

func readBuild(dir fs.FS) (*build, error) {
	b := &build{}
	if data, err := fs.ReadFile(dir, "include/generated/utsrelease.h"); err == nil {
		if _, v, ok := strings.Cut(string(data), "UTS_RELEASE \""); ok {
			b.release, _, _ = strings.Cut(v, "\"")
		}
	}
	if b.release == "" {
		if data, err := fs.ReadFile(dir, "include/config/kernel.release"); err == nil {
			b.release = strings.TrimSpace(string(data))
		}
	}
	if data, err := fs.ReadFile(dir, "include/config/auto.conf"); err == nil {
		b.config = parseConfig(data)
	} else if data, err := fs.ReadFile(dir, ".config"); err == nil {
		b.config = parseConfig(data)
	}
	if b.config != nil {
		c := b.config
		b.modversions = tri(c["CONFIG_MODVERSIONS"] == "y")
		b.forceLoad = tri(c["CONFIG_MODULE_FORCE_LOAD"] == "y")
		b.sigCheck = tri(c["CONFIG_MODULE_SIG"] == "y")
		if c["CONFIG_X86_64"] == "y" {
			b.machine = elf.EM_X86_64
		}
		if c["CONFIG_MODULE_DECOMPRESS"] == "y" {
			for opt, f := range map[string]compression.Format{
				"CONFIG_MODULE_COMPRESS_GZIP": compression.Gzip,
				"CONFIG_MODULE_COMPRESS_XZ":   compression.XZ,
				"CONFIG_MODULE_COMPRESS_ZSTD": compression.Zstd,
			} {
				if c[opt] == "y" {
					b.decompress = f
				}
			}
		}
		if b.release != "" {
			b.vermagic = vermagicOf(b.release, c)
		}
		if p := strings.Trim(c["CONFIG_SYSTEM_TRUSTED_KEYS"], `"`); p != "" && filepath.IsAbs(p) {
			if data, err := os.ReadFile(p); err == nil {
				b.certs = append(b.certs, parseCerts(data)...)
			}
		}
	}
	if data, err := fs.ReadFile(dir, "certs/signing_key.x509"); err == nil {
		b.certs = append(b.certs, parseCerts(data)...)
	}
	data, err := fs.ReadFile(dir, "Module.symvers")
	switch {
	case err == nil:
		all, err := ParseSymvers(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		b.kernel, b.modules = map[string]Export{}, map[string]Export{}
		for n, e := range all {
			if e.Module == "vmlinux" {
				b.kernel[n] = e
			} else {
				b.modules[n] = e
			}
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read Module.symvers: %w", err)
	}
	return b, nil
}

func parseConfig(data []byte) map[string]string {
	c := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "CONFIG_") {
			c[k] = v
		}
	}
	return c
}

// vermagicOf builds VERMAGIC_STRING (include/linux/vermagic.h) from the
// release and the config, for x86.
func vermagicOf(release string, c map[string]string) string {
	y := func(k string) bool { return c[k] == "y" }
	v := release + " "
	if y("CONFIG_SMP") {
		v += "SMP "
	}
	switch {
	case y("CONFIG_PREEMPT_BUILD"):
		v += "preempt "
	case y("CONFIG_PREEMPT_RT"):
		v += "preempt_rt "
	}
	if y("CONFIG_MODULE_UNLOAD") {
		v += "mod_unload "
	}
	if y("CONFIG_MODVERSIONS") {
		v += "modversions "
	}
	if y("CONFIG_X86_64") || y("CONFIG_X86_32") {
		for _, f := range [][2]string{{"CONFIG_MK8", "K8 "}, {"CONFIG_MPSC", "P4SSE2 "}, {"CONFIG_MCORE2", "CORE2 "}, {"CONFIG_MATOM", "ATOM "}} {
			if y(f[0]) {
				v += f[1]
			}
		}
	}
	if y("CONFIG_RANDSTRUCT") || y("CONFIG_GCC_PLUGIN_RANDSTRUCT") {
		return "" // the seed's hash is not in the config
	}
	return v
}

func parseCerts(data []byte) []*x509.Certificate {
	if c, err := x509.ParseCertificate(data); err == nil {
		return []*x509.Certificate{c}
	}
	var out []*x509.Certificate
	for rest := data; len(rest) > 0; {
		c, err := cms.ParseCertificate(rest)
		if err != nil {
			break
		}
		out = append(out, c)
		i := bytes.Index(rest, []byte("-----END CERTIFICATE-----"))
		if i < 0 {
			break
		}
		rest = rest[i+len("-----END CERTIFICATE-----"):]
	}
	return out
}

// treeVermagic is the vermagic of the first module of modules.dep that
// can be read: in-tree modules carry the kernel's.
func treeVermagic(t *Tree) string {
	names, err := t.db.Names()
	if err != nil {
		return ""
	}
	for i, n := range names {
		if i >= 5 {
			break
		}
		f, err := t.open(n)
		if err != nil {
			continue
		}
		info, err := f.Info()
		if err == nil && info.Vermagic() != "" {
			return info.Vermagic()
		}
	}
	return ""
}

func formatNamed(name string) compression.Format {
	for _, f := range []compression.Format{compression.Gzip, compression.XZ, compression.Zstd, compression.LZ4} {
		if name != "" && f.String() == name {
			return f
		}
	}
	return compression.None
}

func hostMachine() elf.Machine {
	switch runtime.GOARCH {
	case "amd64":
		return elf.EM_X86_64
	case "386":
		return elf.EM_386
	case "arm64":
		return elf.EM_AARCH64
	case "arm":
		return elf.EM_ARM
	case "riscv64":
		return elf.EM_RISCV
	case "ppc64", "ppc64le":
		return elf.EM_PPC64
	case "s390x":
		return elf.EM_S390
	}
	return 0
}
