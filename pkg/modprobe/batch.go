package modprobe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/gokmod/gokmod/pkg/modfile"
)

// BatchOptions change how Batch works.
type BatchOptions struct {
	InsertOptions
	ExecOptions
	// Workers is how many requests load at once; 0 is twice the
	// number of CPUs.
	Workers int
	// IgnoreNotFound drops requests nothing matches, as coldplug does
	// for devices no module drives.
	IgnoreNotFound bool
}

// Batch resolves many requests and loads them in parallel: each
// request's modules in their order, different requests at the same time,
// a module that two requests need loaded once (the second waits for the
// first's load), one loaded meanwhile by another process (EEXIST) taken
// as done. It stops starting new work when ctx is done. The result has
// one error (or nil) per request, in the order given.
func (p *Prober) Batch(ctx context.Context, requests []string, opts BatchOptions) []error {
	errs := make([]error, len(requests))
	workers := opts.Workers
	if workers <= 0 {
		workers = 2 * runtime.NumCPU()
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, req := range requests {
		plan, err := p.Insert(req, opts.InsertOptions)
		if err != nil {
			if !(opts.IgnoreNotFound && errors.Is(err, ErrNotFound)) {
				errs[i] = err
			}
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = p.Execute(ctx, plan, opts.ExecOptions)
		}()
	}
	wg.Wait()
	return errs
}

// Closure is what an image needs to load a set of modules: their files
// and everything those need, for a module tree that need not be the
// running kernel's.
type Closure struct {
	// Files are the module files in an order that loads each after
	// what it needs, each once.
	Files []string `json:"files"`
	// Firmware are the firmware= names of the files' .modinfo, sorted,
	// each once.
	Firmware []string `json:"firmware"`
	// Builtin are modules the kernel has built in.
	Builtin []string `json:"builtin"`
	// Commands are install commands that would run instead of a load.
	Commands []Step `json:"commands,omitempty"`
	// Missing are requests nothing matched.
	Missing []string `json:"missing,omitempty"`
}

// Closure resolves requests as modprobe --show-depends does (loaded
// modules count as not loaded) and collects what they need.
func (p *Prober) Closure(requests []string, opts InsertOptions) (*Closure, error) {
	opts.IgnoreLoaded = true
	c := &Closure{Files: []string{}, Firmware: []string{}, Builtin: []string{}}
	seen := map[string]bool{}
	fw := map[string]bool{}
	for _, req := range requests {
		plan, err := p.Insert(req, opts)
		if errors.Is(err, ErrNotFound) {
			c.Missing = append(c.Missing, req)
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, t := range plan.Targets {
			for _, st := range t.Steps {
				key := st.Action.String() + "\x00" + st.Module + "\x00" + st.Path
				if seen[key] {
					continue
				}
				seen[key] = true
				switch st.Action {
				case Load:
					c.Files = append(c.Files, st.Path)
					names, err := firmware(st.Path)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", st.Path, err)
					}
					for _, n := range names {
						fw[n] = true
					}
				case Builtin:
					c.Builtin = append(c.Builtin, st.Module)
				case Install:
					c.Commands = append(c.Commands, st)
				}
			}
		}
	}
	for n := range fw {
		c.Firmware = append(c.Firmware, n)
	}
	sort.Strings(c.Firmware)
	return c, nil
}

func firmware(file string) ([]string, error) {
	f, err := modfile.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Info()
	if err != nil {
		return nil, err
	}
	return info.Values("firmware"), nil
}

// Modaliases returns the distinct contents of the modalias files under
// sys/devices of sysfs (the system's "/"), sorted: what the devices
// present ask for, as udev's coldplug reads them.
func Modaliases(sysfs fs.FS) ([]string, error) {
	seen := map[string]bool{}
	err := fs.WalkDir(sysfs, "sys/devices", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "sys/devices" {
				return err
			}
			return nil // a device gone while walking, or unreadable
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if d.IsDir() || path.Base(p) != "modalias" {
			return nil
		}
		b, err := fs.ReadFile(sysfs, p)
		if err != nil {
			return nil
		}
		if a := strings.TrimSpace(string(b)); a != "" {
			seen[a] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read sys/devices: %w", err)
	}
	out := make([]string, 0, len(seen))
	for a := range seen {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}

// Coldplug loads the modules the devices present ask for: the modalias
// of every device under /sys/devices, resolved in one batch (blacklists
// apply, as they do to aliases), loaded in parallel. It returns the
// aliases it read and one error (or nil) per alias.
func (p *Prober) Coldplug(ctx context.Context, opts BatchOptions) ([]string, []error, error) {
	aliases, err := Modaliases(p.sys())
	if err != nil {
		return nil, nil, err
	}
	opts.IgnoreNotFound = true
	return aliases, p.Batch(ctx, aliases, opts), nil
}
