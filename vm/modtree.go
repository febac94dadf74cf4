package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokmod/gokmod/pkg/modprobe"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
)

// The guest's module tree: a subset of the flavour's own modules under
// /lib/modules/<release>, as the kernel's packaging ships them (plain .ko
// on debian61, .ko.xz on debian612), with indexes that kmod's depmod
// regenerated for the subset on the host, so that modprobe (kmod's and
// ours) works in the guest. The secure flavour is a tinyconfig kernel
// without a module tree: it gets the test companions (kaidock and the
// rest) under extra/ instead.

// guestModules are the modules whose closure the guest gets: btrfs for a
// dependency chain several modules deep, the FAT family, every NLS table
// (many small independent modules for parallel loads), and a few more.
var guestModules = []string{
	"btrfs", "vfat", "msdos", "isofs", "loop", "e1000",
	"nls_*", "crc32c", "crc32c_generic", "xor",
}

// companions are the test modules (vm/modules) the tree gets under
// extra/ on every flavour: kaidock_user needs kaidock_export.
var companions = []string{"kaidock", "kaidock_export", "kaidock_user", "kaidock_params"}

// signModule appends a signature by the test key rsa2048 to data.
func signModule(keys string, data []byte) ([]byte, error) {
	priv, err := os.ReadFile(filepath.Join(keys, "rsa2048.priv"))
	if err != nil {
		return nil, err
	}
	der, err := os.ReadFile(filepath.Join(keys, "rsa2048.der"))
	if err != nil {
		return nil, err
	}
	k, err := cms.ParsePrivateKey(priv)
	if err != nil {
		return nil, err
	}
	cert, err := cms.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	hash, err := modsig.HashByName("sha256")
	if err != nil {
		return nil, err
	}
	s, err := cms.NewSigner(k, cert, cms.Options{Hash: hash})
	if err != nil {
		return nil, err
	}
	block, err := s.Sign(data)
	if err != nil {
		return nil, err
	}
	return append(append([]byte{}, data...), block...), nil
}

// moduleTreeFiles returns the guest paths and host files of the guest's
// module tree, building it into the cache on first use.
func moduleTreeFiles(c *Cache, p *prepared, logw io.Writer) (map[string]string, error) {
	dir := c.path("moduletrees", p.K.ID+"-"+hashStrings(append([]string{p.Modules, p.K.Append, "v3"}, guestModules...)...))
	_, err := artifact(dir, func(tmp string) error {
		fmt.Fprintf(logw, "gokmod-vm: %s: building the guest's module tree\n", p.K.Flavour)
		return buildModuleTree(c, p, tmp, logw)
	})
	if err != nil {
		return nil, fmt.Errorf("module tree for %s: %w", p.K.Flavour, err)
	}
	files := map[string]string{}
	root := filepath.Join(dir, "root")
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files["/"+filepath.ToSlash(rel)] = path
		return nil
	})
	return files, err
}

func buildModuleTree(c *Cache, p *prepared, tmp string, logw io.Writer) error {
	rel := p.K.Release
	out := filepath.Join(tmp, "root", "lib", "modules", rel)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// The companions, signed with the test key where the kernel
	// enforces signatures.
	if err := os.MkdirAll(filepath.Join(out, "extra"), 0o755); err != nil {
		return err
	}
	for _, n := range companions {
		data, err := os.ReadFile(filepath.Join(p.Modules, n+".ko"))
		if err != nil {
			return err
		}
		if strings.Contains(p.K.Append, "sig_enforce=1") {
			if data, err = signModule(p.Keys.Dir, data); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(out, "extra", n+".ko"), data, 0o644); err != nil {
			return err
		}
	}
	var files []string // relative to the source tree
	var src string
	switch p.K.Flavour {
	case "secure": // a tinyconfig kernel: no module tree of its own
		for _, f := range []string{"modules.order", "modules.builtin", "modules.builtin.modinfo"} {
			if err := os.WriteFile(filepath.Join(out, f), nil, 0o644); err != nil {
				return err
			}
		}
	default:
		full, err := fullModuleTree(c, p, logw)
		if err != nil {
			return err
		}
		src = filepath.Join(full, "lib", "modules", rel)
		pr, err := modprobe.New(modprobe.Options{Root: full, KernelRelease: rel, ConfigPaths: []string{}, CmdlinePath: "-"})
		if err != nil {
			return err
		}
		requests, err := expand(src, guestModules)
		if err != nil {
			return err
		}
		cl, err := pr.Closure(requests, modprobe.InsertOptions{})
		if err != nil {
			return err
		}
		for _, f := range cl.Files {
			r, err := filepath.Rel(src, f)
			if err != nil {
				return err
			}
			files = append(files, r)
		}
		for _, f := range append(files, "modules.builtin", "modules.builtin.modinfo", "modules.order") {
			if err := os.MkdirAll(filepath.Dir(filepath.Join(out, f)), 0o755); err != nil {
				return err
			}
			if err := copyFile(filepath.Join(out, f), filepath.Join(src, f), 0o644); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return command(tmp, logw, "depmod", "-b", filepath.Join(tmp, "root"), rel)
}

// expand replaces a "prefix_*" entry by the names of the modules.dep
// entries it matches.
func expand(tree string, names []string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(tree, "modules.dep"))
	if err != nil {
		return nil, err
	}
	var all []string
	for _, line := range strings.Split(string(b), "\n") {
		p, _, ok := strings.Cut(line, ":")
		if ok {
			base := filepath.Base(p)
			all = append(all, strings.ReplaceAll(base[:strings.IndexByte(base, '.')], "-", "_"))
		}
	}
	var out []string
	for _, n := range names {
		prefix, ok := strings.CutSuffix(n, "*")
		if !ok {
			out = append(out, n)
			continue
		}
		for _, a := range all {
			if strings.HasPrefix(a, prefix) {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// fullModuleTree is a directory holding lib/modules/<release>, the
// flavour's whole module tree: the host's own when it has the release,
// else extracted once from the kernel image package.
func fullModuleTree(c *Cache, p *prepared, logw io.Writer) (string, error) {
	rel := p.K.Release
	if _, err := os.Stat(filepath.Join("/lib/modules", rel, "modules.dep")); err == nil {
		return "/", nil
	}
	dir := c.path("moduletrees", "full-v2-"+p.K.ID)
	return artifact(dir, func(tmp string) error {
		pkg := "linux-image-" + rel
		fmt.Fprintf(logw, "gokmod-vm: %s: downloading %s for its modules\n", p.K.Flavour, pkg)
		args := []string{"download"}
		if os.Geteuid() == 0 {
			args = append([]string{"-o", "APT::Sandbox::User=root"}, args...)
		}
		if err := command(tmp, logw, "apt-get", append(args, pkg)...); err != nil {
			return err
		}
		debs, err := filepath.Glob(filepath.Join(tmp, "*.deb"))
		if err != nil || len(debs) != 1 {
			return fmt.Errorf("apt-get download %s: got %d .deb files", pkg, len(debs))
		}
		if err := extractDeb(debs[0], tmp, "./lib/modules/"+rel); err != nil {
			return err
		}
		if err := os.Remove(debs[0]); err != nil {
			return err
		}
		// The package ships no indexes: its postinst runs depmod.
		return command(tmp, logw, "depmod", "-b", tmp, rel)
	})
}

// addModuleTree puts the guest's module tree into g.
func addModuleTree(c *Cache, p *prepared, g *guestFiles) error {
	files, err := moduleTreeFiles(c, p, os.Stderr)
	if err != nil {
		return err
	}
	extra := make(map[string]string, len(g.Extra)+len(files))
	for guest, host := range g.Extra {
		extra[guest] = host
	}
	for guest, host := range files {
		extra[guest] = host
	}
	g.Extra = extra
	return nil
}
