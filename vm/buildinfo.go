package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// buildInfo lists the files of a kernel build directory that tell what the
// kernel will accept (tests/preflight_test.go checks modules against them):
// the build directory path and the name they get next to the modules. A
// file the build directory lacks (System.map and the signing key are not
// in Debian's headers) is left out.
var buildInfo = [][2]string{
	{"Module.symvers", "kernel-Module.symvers"},
	{"include/generated/utsrelease.h", "kernel-utsrelease.h"},
	{"include/config/auto.conf", "kernel-auto.conf"},
	{"System.map", "kernel-System.map"},
	{"certs/signing_key.x509", "kernel-signing_key.x509"},
}

// copyBuildInfo copies buildInfo's files from the build directory kdir to
// out.
func copyBuildInfo(kdir, out string) error {
	for _, f := range buildInfo {
		err := copyFile(filepath.Join(out, f[1]), filepath.Join(kdir, f[0]), 0o644)
		if errors.Is(err, fs.ErrNotExist) {
			os.Remove(filepath.Join(out, f[1]))
			continue
		}
		if err != nil {
			return fmt.Errorf("copy %s: %w", f[0], err)
		}
	}
	return nil
}
