package main

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Cache is the directory that holds every provisioned artifact.
type Cache struct{ Dir string }

func openCache() (*Cache, error) {
	c, err := openCacheDir()
	if err != nil {
		return nil, err
	}
	return c, os.MkdirAll(c.path("tmp"), 0o755)
}

func openCacheDir() (*Cache, error) {
	dir := os.Getenv("GOKMOD_CACHE")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("find cache dir (set GOKMOD_CACHE): %w", err)
		}
		dir = filepath.Join(base, "gokmod")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create cache: %w", err)
	}
	return &Cache{Dir: dir}, nil
}

func (c *Cache) path(elem ...string) string {
	return filepath.Join(append([]string{c.Dir}, elem...)...)
}

// artifact returns dir if it is complete, or builds it: build fills a fresh
// temporary directory that is renamed to dir only when build succeeds.
func artifact(dir string, build func(tmp string) error) (string, error) {
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return "", err
	}
	if err := build(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	os.RemoveAll(dir) // an incomplete leftover
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return dir, nil
}

// lock takes the cache's lock; parallel runs wait for each other while they
// provision, build the tools and write their initramfs, never while they boot.
func (c *Cache) lock() (unlock func(), err error) {
	f, err := os.OpenFile(c.path(".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	return func() { f.Close() }, nil
}
