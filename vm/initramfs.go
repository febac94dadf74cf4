package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gokmod/gokmod/vm/contract"
	"github.com/gokmod/gokmod/vm/cpio"
)

// busyboxApplets are linked into /bin. kmod's names (insmod, rmmod, lsmod,
// modinfo, modprobe, depmod) are left out on purpose: in the guest they
// must mean our tools or kmod's, never busybox's.
var busyboxApplets = strings.Fields(`sh ash awk basename cat chmod chown cmp cp cut date dd df
	diff dirname dmesg du echo env expr false find grep egrep fgrep gunzip gzip head hexdump
	id kill ln ls md5sum mkdir mknod mktemp mount mv od printf ps pwd readlink realpath rm
	rmdir sed seq sha256sum sha512sum sleep sort stat strings sync tail tee test [ [[ timeout
	touch tr true umount uname uniq unxz wc which xargs xxd xz xzcat yes zcat`)

// guestFiles is what one boot needs besides the kernel.
type guestFiles struct {
	Init     string // the guest /init binary
	Tools    string // directory of our static tools (may be empty)
	Modules  string // directory of .ko files
	Keys     string // directory of test keys
	SignFile string // host path of sign-file, or ""
	Extra    map[string]string
	Argv     []string
	Env      []string
	Cwd      string
	// CopyDir, when set, is copied to the guest's Cwd (a package's testdata).
	CopyDir string
}

// writeInitramfs writes the newc archive for one boot to w.
func writeInitramfs(w io.Writer, g *guestFiles) error {
	cw := cpio.NewWriter(w)
	add := func(name string, perm uint32, host string) error { return addFile(cw, name, perm, host) }
	for _, d := range []string{"proc", "sys", "dev", "tmp", "run", "root", "etc"} {
		perm := uint32(0o755)
		if d == "tmp" {
			perm = 0o1777
		}
		if err := cw.Dir(d, perm); err != nil {
			return err
		}
	}
	if err := cw.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return err
	}
	if err := cw.File("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\n")); err != nil {
		return err
	}
	if err := cw.File("etc/group", 0o644, []byte("root:x:0:\n")); err != nil {
		return err
	}
	if err := add("init", 0o755, g.Init); err != nil {
		return fmt.Errorf("add init: %w", err)
	}

	// busybox
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("find busybox (apt-get install busybox-static): %w", err)
	}
	list, err := output("", bb, "--list")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, a := range strings.Fields(list) {
		have[a] = true
	}
	if err := add("bin/busybox", 0o755, bb); err != nil {
		return err
	}
	for _, a := range busyboxApplets {
		if have[a] {
			if err := cw.Symlink("bin/"+a, "busybox"); err != nil {
				return err
			}
		}
	}

	// kmod and the libraries it and sign-file need
	libs := map[string]bool{}
	kmod, err := exec.LookPath("kmod")
	if err != nil {
		return fmt.Errorf("find kmod (apt-get install kmod): %w", err)
	}
	if err := add(contract.Kmod+"/kmod", 0o755, kmod); err != nil {
		return err
	}
	for _, n := range []string{"insmod", "rmmod", "lsmod", "modinfo", "modprobe", "depmod"} {
		if err := cw.Symlink(contract.Kmod+"/"+n, "kmod"); err != nil {
			return err
		}
	}
	if err := sharedLibs(kmod, libs); err != nil {
		return err
	}
	if g.SignFile != "" {
		if _, err := os.Stat(g.SignFile); err == nil {
			if err := add(contract.Sign, 0o755, g.SignFile); err != nil {
				return err
			}
			if err := sharedLibs(g.SignFile, libs); err != nil {
				return err
			}
		}
	}
	// A test binary built with cgo (go test -exec without CGO_ENABLED=0)
	// needs its libraries too.
	for _, guest := range sortedKeys(g.Extra) {
		if strings.HasPrefix(guest, "/lib/modules/") {
			continue // the guest's module tree (modtree.go)
		}
		if err := sharedLibs(g.Extra[guest], libs); err != nil {
			return err
		}
	}
	for _, lib := range sortedKeys(libs) {
		if err := add(lib, 0o755, lib); err != nil {
			return fmt.Errorf("add %s: %w", lib, err)
		}
	}

	for _, d := range []struct{ host, guest string }{
		{g.Tools, contract.Bin}, {g.Modules, contract.Modules}, {g.Keys, contract.Keys},
	} {
		if err := cw.Dir(d.guest, 0o755); err != nil {
			return err
		}
		if d.host == "" {
			continue
		}
		names, err := listFiles(d.host)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := add(d.guest+"/"+n, 0o755, filepath.Join(d.host, n)); err != nil {
				return err
			}
		}
	}
	for _, guest := range sortedKeys(g.Extra) {
		if err := add(guest, 0o755, g.Extra[guest]); err != nil {
			return err
		}
	}
	if g.CopyDir != "" {
		if err := addTree(cw, g.CopyDir, g.Cwd+"/"+filepath.Base(g.CopyDir)); err != nil {
			return err
		}
	}
	nul := func(list []string) []byte { return []byte(strings.Join(list, "\x00") + "\x00") }
	if err := cw.File(contract.ArgvFile, 0o644, nul(g.Argv)); err != nil {
		return err
	}
	if err := cw.File(contract.EnvFile, 0o644, nul(g.Env)); err != nil {
		return err
	}
	if err := cw.File(contract.CwdFile, 0o644, []byte(g.Cwd+"\n")); err != nil {
		return err
	}
	return cw.Close()
}

// addTree copies a host directory tree into the archive.
func addTree(cw *cpio.Writer, host, guest string) error {
	return filepath.Walk(host, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(host, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(filepath.Join(guest, rel))
		switch {
		case info.IsDir():
			return cw.Dir(name, uint32(info.Mode().Perm()))
		case info.Mode()&os.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return cw.Symlink(name, t)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return cw.File(name, uint32(info.Mode().Perm()), b)
		}
		return nil
	})
}

// sharedLibs adds the libraries ldd lists for bin (and the loader) to libs.
func sharedLibs(bin string, libs map[string]bool) error {
	out, err := output("", "ldd", bin)
	if err != nil {
		if strings.Contains(err.Error(), "not a dynamic executable") {
			return nil
		}
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader([]byte(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			libs[f[2]] = true
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			libs[f[0]] = true
		case len(f) >= 2 && f[1] == "=>" && (len(f) < 3 || f[2] == "not"):
			return fmt.Errorf("ldd %s: %s not found", bin, f[0])
		}
	}
	return nil
}

// addFile copies the host file into the archive as name.
func addFile(cw *cpio.Writer, name string, perm uint32, host string) error {
	b, err := os.ReadFile(host)
	if err != nil {
		return err
	}
	return cw.File(name, perm, b)
}
