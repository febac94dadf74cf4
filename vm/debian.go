package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// debianPackage is one binary package at one version.
type debianPackage struct {
	Name, Version string
	Depends       []string // package names only, alternatives dropped
}

// aptShow reads the candidate version and dependencies of a package.
func (c *Cache) aptShow(name string) (debianPackage, error) {
	out, err := c.aptCache("show", "--no-all-versions", name)
	if err != nil {
		return debianPackage{}, fmt.Errorf("apt-cache show %s (run apt-get update?): %w", name, err)
	}
	p := debianPackage{Name: name}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Version: ") && p.Version == "":
			p.Version = strings.TrimSpace(strings.TrimPrefix(line, "Version: "))
		case strings.HasPrefix(line, "Depends: ") && p.Depends == nil:
			for _, alt := range strings.Split(strings.TrimPrefix(line, "Depends: "), ",") {
				first, _, _ := strings.Cut(alt, "|")
				f := strings.Fields(first)
				if len(f) > 0 {
					p.Depends = append(p.Depends, f[0])
				}
			}
		}
	}
	if p.Version == "" {
		return p, fmt.Errorf("apt-cache show %s: no Version field", name)
	}
	return p, nil
}

// aptCache runs apt-cache, or returns its answer as remembered in the
// cache's apt/ directory while apt's package lists stay the same, so that a
// warm run does not pay for several apt-cache calls.
func (c *Cache) aptCache(args ...string) (string, error) {
	answers := c.path("apt")
	var stamp []string
	for _, p := range []string{"/var/lib/apt/lists", "/var/cache/apt/pkgcache.bin", "/etc/apt/sources.list", "/etc/apt/sources.list.d"} {
		if st, err := os.Stat(p); err == nil {
			stamp = append(stamp, fmt.Sprint(p, st.ModTime().UnixNano(), st.Size()))
		}
	}
	file := filepath.Join(answers, hashStrings(append(stamp, args...)...))
	if b, err := os.ReadFile(file); err == nil {
		return string(b), nil
	}
	out, err := output("", "apt-cache", args...)
	if err != nil {
		return "", err
	}
	if os.MkdirAll(answers, 0o755) == nil {
		_ = writeFileAtomic(file, []byte(out), 0o644)
	}
	return out, nil
}

// debian61Image is the image package linux-image-amd64 depends on.
func (c *Cache) debian61Image() (string, error) {
	meta, err := c.aptShow("linux-image-amd64")
	if err != nil {
		return "", err
	}
	for _, d := range meta.Depends {
		if strings.HasPrefix(d, "linux-image-6.1.") {
			return d, nil
		}
	}
	return "", fmt.Errorf("linux-image-amd64 depends on no linux-image-6.1.* package (%v)", meta.Depends)
}

var image612 = regexp.MustCompile(`^linux-image-6\.12\.([0-9]+)\+deb12-amd64$`)

// debian612Image is the newest linux-image-6.12.*+deb12-amd64 apt knows.
func (c *Cache) debian612Image() (string, error) {
	out, err := c.aptCache("search", "--names-only", `^linux-image-6\.12\.[0-9]+\+deb12-amd64$`)
	if err != nil {
		return "", err
	}
	best, bestN := "", -1
	for _, line := range strings.Split(out, "\n") {
		name, _, _ := strings.Cut(line, " ")
		m := image612.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		if n, err := strconv.Atoi(m[1]); err == nil && n > bestN {
			best, bestN = name, n
		}
	}
	if best == "" {
		return "", errors.New("apt knows no linux-image-6.12.*+deb12-amd64 (is bookworm-security in sources.list, apt-get update run?)")
	}
	return best, nil
}

// provisionDebian downloads a Debian kernel image and its headers into the
// cache: vmlinuz-<release> and root/ with the headers and kbuild extracted.
func provisionDebian(c *Cache, flavour, imagePkg string, logw io.Writer) (*Kernel, error) {
	release := strings.TrimPrefix(imagePkg, "linux-image-")
	img, err := c.aptShow(imagePkg)
	if err != nil {
		return nil, err
	}
	hdr, err := c.aptShow("linux-headers-" + release)
	if err != nil {
		return nil, err
	}
	pkgs := []debianPackage{img, hdr}
	for _, d := range hdr.Depends {
		if strings.HasPrefix(d, "linux-headers-") || strings.HasPrefix(d, "linux-kbuild-") {
			p, err := c.aptShow(d)
			if err != nil {
				return nil, err
			}
			pkgs = append(pkgs, p)
		}
	}
	var key []string
	for _, p := range pkgs {
		key = append(key, p.Name+"="+p.Version)
	}
	dir := c.path("kernels", flavour+"-"+safeName(release)+"-"+hashStrings(key...))
	_, err = artifact(dir, func(tmp string) error {
		fmt.Fprintf(logw, "gokmod-vm: %s: downloading %s\n", flavour, strings.Join(key, " "))
		args := []string{"download"}
		if os.Geteuid() == 0 {
			args = append([]string{"-o", "APT::Sandbox::User=root"}, args...)
		}
		if err := command(tmp, nil, "apt-get", append(args, key...)...); err != nil {
			return err
		}
		debs, err := filepath.Glob(filepath.Join(tmp, "*.deb"))
		if err != nil || len(debs) != len(pkgs) {
			return fmt.Errorf("apt-get download: got %d .deb files, want %d", len(debs), len(pkgs))
		}
		root := filepath.Join(tmp, "root")
		if err := os.Mkdir(root, 0o755); err != nil {
			return err
		}
		for _, deb := range debs {
			if strings.Contains(filepath.Base(deb), "linux-image-") {
				if err := extractDeb(deb, root, "./boot/vmlinuz-"+release); err != nil {
					return err
				}
			} else if err := extractDeb(deb, root); err != nil {
				return err
			}
			if err := os.Remove(deb); err != nil {
				return err
			}
		}
		if err := os.Rename(filepath.Join(root, "boot", "vmlinuz-"+release), filepath.Join(tmp, "vmlinuz")); err != nil {
			return fmt.Errorf("find vmlinuz in %s: %w", imagePkg, err)
		}
		return relocateHeaders(root, filepath.Join(dir, "root"), release)
	})
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", flavour, err)
	}
	k := &Kernel{
		Flavour:  flavour,
		Release:  release,
		Image:    filepath.Join(dir, "vmlinuz"),
		BuildDir: filepath.Join(dir, "root", "usr", "src", "linux-headers-"+release),
		ID:       filepath.Base(dir),
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "root", "usr", "lib", "linux-kbuild-*", "scripts", "sign-file")); len(m) > 0 {
		k.SignFile = m[0]
	}
	return k, nil
}

// extractDeb unpacks a .deb's data (or only the named members) into dest.
func extractDeb(deb, dest string, members ...string) error {
	dpkg := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	tar := exec.Command("tar", append([]string{"-x", "-C", dest}, members...)...)
	pipe, err := dpkg.StdoutPipe()
	if err != nil {
		return err
	}
	var e1, e2 tailBuffer
	dpkg.Stderr = &e1
	tar.Stdin = pipe
	tar.Stderr = &e2
	if err := dpkg.Start(); err != nil {
		return fmt.Errorf("dpkg-deb: %w", err)
	}
	terr := tar.Run()
	derr := dpkg.Wait()
	if derr != nil || terr != nil {
		return fmt.Errorf("extract %s: %w %s %s", filepath.Base(deb), errors.Join(derr, terr), e1.String(), e2.String())
	}
	return nil
}

// relocateHeaders makes the extracted headers usable where they are: the
// headers Makefile includes the -common one by absolute path, and absolute
// symlinks must point inside the tree. final is where root will live.
func relocateHeaders(root, final, release string) error {
	mk := filepath.Join(root, "usr", "src", "linux-headers-"+release, "Makefile")
	b, err := os.ReadFile(mk)
	if err != nil {
		return fmt.Errorf("read headers Makefile: %w", err)
	}
	fixed := strings.ReplaceAll(string(b), " /usr/src/", " "+final+"/usr/src/")
	if err := os.WriteFile(mk, []byte(fixed), 0o644); err != nil {
		return err
	}
	return filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.Mode()&os.ModeSymlink == 0 {
			return err
		}
		target, err := os.Readlink(p)
		if err != nil || !filepath.IsAbs(target) {
			return err
		}
		rel, err := filepath.Rel(filepath.Dir(p), filepath.Join(root, target))
		if err != nil {
			return err
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		return os.Symlink(rel, p)
	})
}
