package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// prepared is a provisioned flavour: kernel, modules and keys.
type prepared struct {
	K       *Kernel
	Modules string
	Keys    *Keys
}

// provision makes every flavour ready, holding the cache lock so that
// parallel `go test -exec` runs do not build the same thing twice.
func provision(c *Cache, names []string, logw io.Writer) (map[string]*prepared, error) {
	unlock, err := c.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	keys, err := provisionKeys(c)
	if err != nil {
		return nil, err
	}
	out := map[string]*prepared{}
	for _, name := range names {
		if out[name] != nil {
			continue
		}
		var k *Kernel
		switch name {
		case "debian61", "debian612":
			pick := c.debian61Image
			if name == "debian612" {
				pick = c.debian612Image
			}
			pkg, err := pick()
			if err != nil {
				return nil, fmt.Errorf("provision %s: %w", name, err)
			}
			k, err = provisionDebian(c, name, pkg, logw)
			if err != nil {
				return nil, err
			}
		case "secure":
			k, err = provisionSecure(c, keys, logw)
			if err != nil {
				return nil, err
			}
		}
		k.Image = pvhImage(k.Image, logw)
		mods, err := provisionModules(c, k, logw)
		if err != nil {
			return nil, err
		}
		out[name] = &prepared{K: k, Modules: mods, Keys: keys}
	}
	return out, nil
}

func cmdProvision(args []string) (int, error) {
	fs := newFlags("provision")
	var kernels multiFlag
	fs.Var(&kernels, "kernel", "flavour")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if fs.NArg() > 0 {
		return 2, usagef("provision: unexpected %q", fs.Arg(0))
	}
	names, err := kernelList(kernels, flavours)
	if err != nil {
		return 2, err
	}
	c, err := openCache()
	if err != nil {
		return 1, err
	}
	for _, name := range names {
		start := time.Now()
		p, err := provision(c, []string{name}, os.Stderr)
		if err != nil {
			return 1, err
		}
		fmt.Printf("%-10s %s (%s) in %.1fs\n  kernel  %s\n  build   %s\n  modules %s\n  keys    %s\n",
			name, p[name].K.Release, p[name].K.ID, time.Since(start).Seconds(),
			p[name].K.Image, p[name].K.BuildDir, p[name].Modules, p[name].Keys.Dir)
	}
	return 0, nil
}

func cmdModules(args []string) (int, error) {
	fs := newFlags("modules")
	kdir := fs.String("kdir", "", "kbuild tree")
	out := fs.String("out", "", "output directory")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	if *kdir == "" || *out == "" || fs.NArg() > 0 {
		return 2, usagef("modules: need --kdir and --out")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return 1, err
	}
	if err := buildModules(*kdir, *out, os.Stderr); err != nil {
		return 1, fmt.Errorf("build modules: %w", err)
	}
	fmt.Println(*out)
	return 0, nil
}

func cmdKeys(args []string) (int, error) {
	if len(args) > 0 {
		return 2, usagef("keys: unexpected %q", args[0])
	}
	c, err := openCache()
	if err != nil {
		return 1, err
	}
	k, err := provisionKeys(c)
	if err != nil {
		return 1, err
	}
	fmt.Println(k.Dir)
	return 0, nil
}
