package modprobe_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gokmod/gokmod/pkg/modprobe"
)

// An image builder resolves what a set of modules needs from a tree that
// is not the running kernel's.
func ExampleProber_Closure() {
	p, err := modprobe.New(modprobe.Options{
		Root:          "/build/rootfs", // holds lib/modules/6.12.117+deb12-amd64
		KernelRelease: "6.12.117+deb12-amd64",
		ConfigPaths:   []string{"/build/rootfs/etc/modprobe.d"},
		CmdlinePath:   "-", // not this machine's /proc/cmdline
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	c, err := p.Closure([]string{"btrfs", "vfat"}, modprobe.InsertOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range c.Files { // in load order, each once
		fmt.Println(f)
	}
	fmt.Println(c.Firmware, c.Builtin, c.Missing)
}

// A program loads modules the way modprobe does, many at once.
func ExampleProber_Batch() {
	p, err := modprobe.New(modprobe.Options{}) // the running system
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	reqs := []string{"vfat", "isofs", "fs-btrfs"}
	for i, err := range p.Batch(context.Background(), reqs, modprobe.BatchOptions{}) {
		if err != nil {
			fmt.Printf("%s: %v\n", reqs[i], err)
		}
	}
}
