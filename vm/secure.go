package main

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

//go:embed kernel/secure.config
var secureFragment string

const sourcePackage = "linux-source-6.12"

// provisionSecure builds the secure kernel: tinyconfig plus
// kernel/secure.config from Debian's linux-source-6.12, trusting the test
// certificates. The build tree is kept (secure/build-VERSION) so that a new
// key set or fragment costs an incremental build; the booted image is an
// artifact keyed by source version, fragment and certificates.
func provisionSecure(c *Cache, keys *Keys, logw io.Writer) (*Kernel, error) {
	src, err := c.aptShow(sourcePackage)
	if err != nil {
		return nil, err
	}
	srcDir, err := artifact(c.path("src", "linux-"+safeName(src.Version)), func(tmp string) error {
		fmt.Fprintf(logw, "gokmod-vm: secure: downloading %s=%s\n", src.Name, src.Version)
		return extractSource(tmp, src)
	})
	if err != nil {
		return nil, fmt.Errorf("provision secure: kernel source: %w", err)
	}
	build := c.path("secure", "build-"+safeName(src.Version))
	if err := os.MkdirAll(build, 0o755); err != nil {
		return nil, err
	}
	pemPath := filepath.Join(build, "gokmod-trusted.pem")
	fragment := strings.ReplaceAll(secureFragment, "@TRUSTED_PEM@", pemPath)
	if err := configure(srcDir, build, fragment, logw); err != nil {
		return nil, fmt.Errorf("provision secure: configure: %w", err)
	}
	if old, err := os.ReadFile(pemPath); err != nil || !bytes.Equal(old, keys.TrustedPEM) {
		if err := writeFileAtomic(pemPath, keys.TrustedPEM, 0o644); err != nil {
			return nil, err
		}
	}
	dir := c.path("kernels", "secure-"+safeName(src.Version)+"-"+hashStrings(src.Version, fragment, string(keys.TrustedPEM)))
	_, err = artifact(dir, func(tmp string) error {
		fmt.Fprintf(logw, "gokmod-vm: secure: building the kernel in %s (about 10 min on 2 cores, log: %s)\n", build, filepath.Join(build, "gokmod-build.log"))
		logf, err := os.Create(filepath.Join(build, "gokmod-build.log"))
		if err != nil {
			return err
		}
		defer logf.Close()
		if err := command(srcDir, logf, "make", "O="+build, "-j"+strconv.Itoa(runtime.NumCPU()), "all"); err != nil {
			return err
		}
		return copyFile(filepath.Join(tmp, "bzImage"), filepath.Join(build, "arch", "x86", "boot", "bzImage"), 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("provision secure: build: %w", err)
	}
	rel, err := os.ReadFile(filepath.Join(build, "include", "config", "kernel.release"))
	if err != nil {
		return nil, fmt.Errorf("provision secure: %w", err)
	}
	return &Kernel{
		Flavour:  "secure",
		Release:  strings.TrimSpace(string(rel)),
		Image:    filepath.Join(dir, "bzImage"),
		BuildDir: build,
		SignFile: filepath.Join(build, "scripts", "sign-file"),
		Append:   "module.sig_enforce=1",
		ID:       filepath.Base(dir),
	}, nil
}

// extractSource unpacks linux-source's tarball into dir.
func extractSource(dir string, src debianPackage) error {
	deb := filepath.Join(dir, ".deb")
	if err := os.Mkdir(deb, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(deb)
	args := []string{"download", src.Name + "=" + src.Version}
	if os.Geteuid() == 0 {
		args = append([]string{"-o", "APT::Sandbox::User=root"}, args...)
	}
	if err := command(deb, nil, "apt-get", args...); err != nil {
		return err
	}
	debs, err := filepath.Glob(filepath.Join(deb, "*.deb"))
	if err != nil || len(debs) != 1 {
		return fmt.Errorf("apt-get download %s: no .deb", src.Name)
	}
	tarball := "./usr/src/" + src.Name + ".tar.xz"
	if err := extractDeb(debs[0], deb, tarball); err != nil {
		return err
	}
	return command(dir, nil, "tar", "-xJf", filepath.Join(deb, tarball), "--strip-components=1")
}

// configure makes build/.config tinyconfig + fragment, unless it already
// has every setting of the fragment.
func configure(srcDir, build, fragment string, logw io.Writer) error {
	want, err := parseConfig(fragment)
	if err != nil {
		return err
	}
	if have, err := os.ReadFile(filepath.Join(build, ".config")); err == nil {
		if missing := missingConfig(string(have), want); len(missing) == 0 {
			return nil
		}
	}
	fmt.Fprintf(logw, "gokmod-vm: secure: configuring %s\n", build)
	if err := command(srcDir, nil, "make", "O="+build, "tinyconfig"); err != nil {
		return err
	}
	cfg := filepath.Join(build, ".config")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := io.WriteString(f, fragment)
	if err := f.Close(); werr != nil || err != nil {
		return fmt.Errorf("append fragment: %v %v", werr, err)
	}
	if err := command(srcDir, nil, "make", "O="+build, "olddefconfig"); err != nil {
		return err
	}
	have, err := os.ReadFile(cfg)
	if err != nil {
		return err
	}
	if missing := missingConfig(string(have), want); len(missing) > 0 {
		return fmt.Errorf("kconfig did not keep %s (dependencies missing from the fragment?)", strings.Join(missing, ", "))
	}
	return nil
}

// parseConfig reads CONFIG_X=value lines, ignoring comments.
func parseConfig(text string) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(k, "CONFIG_") {
			return nil, fmt.Errorf("config line %q is not CONFIG_X=value", line)
		}
		m[k] = v
	}
	return m, sc.Err()
}

func missingConfig(have string, want map[string]string) []string {
	got, err := parseConfig(have)
	if err != nil {
		return []string{err.Error()}
	}
	var missing []string
	for _, k := range sortedKeys(want) {
		if got[k] != want[k] {
			missing = append(missing, k+"="+want[k])
		}
	}
	return missing
}
