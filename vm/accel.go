package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gokmod/gokmod/vm/contract"
	"github.com/gokmod/gokmod/vm/cpio"
)

// EnvAccel overrides the accelerator choice; --accel sets it too.
const EnvAccel = "GOKMOD_ACCEL"

// Accelerator modes as GOKMOD_ACCEL and --accel take them.
const (
	accelAuto = "auto" // KVM when a test guest boots under it, else TCG
	accelKVM  = "kvm"  // KVM or a loud failure
	accelTCG  = "tcg"  // always TCG
)

// probeTimeout bounds the test boot under KVM: a good KVM boots the guest in
// a second or two; a broken one aborts at once or spins until killed.
var probeTimeout = 20 * time.Second

var (
	errKVMUnusable = errors.New("KVM was asked for but does not work")
	errNotProbed   = errors.New("not probed")
)

// accelerator is QEMU's -accel choice and the arguments that go with it.
type accelerator struct {
	Name string   // "kvm" or "tcg"
	Args []string // QEMU arguments
}

var (
	kvm = accelerator{Name: "kvm", Args: []string{"-accel", "kvm", "-cpu", "host"}}
	tcg = accelerator{Name: "tcg", Args: []string{"-accel", "tcg"}}
)

// parseAccelMode validates an override; "" means auto.
func parseAccelMode(s string) (string, error) {
	switch s {
	case "":
		return accelAuto, nil
	case accelAuto, accelKVM, accelTCG:
		return s, nil
	}
	return "", usagef("unknown accelerator %q (want auto, kvm or tcg)", s)
}

// decideAccel is the whole policy: mode is the override, devErr says
// whether /dev/kvm opened (nil: it did), probeErr whether a test guest
// booted under KVM and reported back (nil: it did; errNotProbed when no
// probe ran). It returns the accelerator, and a note for stderr when auto
// falls back although a KVM device is there.
func decideAccel(mode string, devErr, probeErr error) (accelerator, string, error) {
	switch mode {
	case accelTCG:
		return tcg, "", nil
	case accelKVM:
		if devErr != nil {
			return accelerator{}, "", fmt.Errorf("%s=kvm: %w: /dev/kvm: %v", EnvAccel, errKVMUnusable, devErr)
		}
		if probeErr != nil {
			return accelerator{}, "", fmt.Errorf("%s=kvm: %w: a test guest failed under it (%v)", EnvAccel, errKVMUnusable, probeErr)
		}
		return kvm, "", nil
	}
	if devErr != nil {
		return tcg, "", nil // no KVM here: TCG is the plain choice, nothing to say
	}
	if probeErr != nil {
		return tcg, fmt.Sprintf("KVM is present but a test guest failed under it (%v); using TCG", probeErr), nil
	}
	return kvm, "", nil
}

// openKVM says whether /dev/kvm opens read-write, which QEMU needs.
func openKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// accelChooser decides once per process, and remembers a probe's outcome
// in the cache for the machine's boot, so later runs don't boot it again.
type accelChooser struct {
	once  sync.Once
	accel accelerator
	err   error
}

var chooser accelChooser

// pickAccel returns the accelerator for every guest of this run, probing
// KVM with kernel k and guest init the first time it is needed.
func pickAccel(ctx context.Context, c *Cache, k *Kernel, init string, logw io.Writer) (accelerator, error) {
	chooser.once.Do(func() {
		chooser.accel, chooser.err = chooseAccel(ctx, c, k, init, os.Getenv(EnvAccel), openKVM, logw)
	})
	return chooser.accel, chooser.err
}

// chooseAccel gathers what decideAccel needs, running the probe (or reading
// its remembered outcome) only when the mode and the device call for it.
func chooseAccel(ctx context.Context, c *Cache, k *Kernel, init, mode string, devOpen func() error, logw io.Writer) (accelerator, error) {
	mode, err := parseAccelMode(mode)
	if err != nil {
		return accelerator{}, err
	}
	devErr, probeErr := error(nil), errNotProbed
	if mode != accelTCG {
		devErr = devOpen()
		if devErr == nil {
			probeErr = c.kvmProbe(ctx, k, init)
		}
	}
	a, note, err := decideAccel(mode, devErr, probeErr)
	if note != "" {
		fmt.Fprintf(logw, "gokmod-vm: %s\n", note)
	}
	return a, err
}

// kvmProbe returns nil when a test guest booted under KVM and reported
// back, remembering the answer for the machine's boot under accel/ in the
// cache.
func (c *Cache) kvmProbe(ctx context.Context, k *Kernel, init string) error {
	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	id := strings.TrimSpace(string(bootID))
	var memo string
	if id != "" {
		memo = c.path("accel", id)
		if b, err := os.ReadFile(memo); err == nil {
			if s := strings.TrimSpace(string(b)); s != "ok" {
				return errors.New(s)
			}
			return nil
		}
	}
	err := probeKVM(ctx, c, k, init)
	if ctx.Err() != nil {
		return err // interrupted: that says nothing about KVM
	}
	if memo != "" && os.MkdirAll(filepath.Dir(memo), 0o755) == nil {
		answer := "ok"
		if err != nil {
			answer = firstLine(err.Error())
		}
		_ = writeFileAtomic(memo, []byte(answer+"\n"), 0o644)
	}
	return err
}

// probeKVM boots k under KVM with the smallest initramfs there is: the
// guest init running busybox's true.
func probeKVM(ctx context.Context, c *Cache, k *Kernel, init string) error {
	dir, err := os.MkdirTemp(c.path("tmp"), "kvm-probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	initrd := filepath.Join(dir, "initramfs.cpio")
	if err := writeProbeInitramfs(initrd, init); err != nil {
		return err
	}
	var out bytes.Buffer
	status, err := boot(ctx, &bootSpec{
		Kernel: k, Accel: kvm, Initrd: initrd, Timeout: probeTimeout,
		Out: &out, LogPath: filepath.Join(dir, "kernel.log"),
	})
	if err != nil {
		return trimLogPath(err)
	}
	if status != 0 {
		return fmt.Errorf("the test guest exited with status %d: %s", status, strings.TrimSpace(out.String()))
	}
	return nil
}

// trimLogPath drops "; kernel log: …" from a boot error: the probe's log is
// removed with its directory.
func trimLogPath(err error) error {
	msg, _, _ := strings.Cut(err.Error(), "; kernel log: ")
	return errors.New(firstLine(msg))
}

// writeProbeInitramfs writes an archive with /init and busybox whose command
// is `busybox true`.
func writeProbeInitramfs(name, init string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return fmt.Errorf("find busybox (apt-get install busybox-static): %w", err)
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	cw := cpio.NewWriter(f)
	nul := func(list ...string) []byte { return []byte(strings.Join(list, "\x00") + "\x00") }
	err = errors.Join(
		cw.Dir("dev", 0o755),
		cw.CharDev("dev/console", 0o600, 5, 1),
		addFile(cw, "init", 0o755, init),
		addFile(cw, "bin/busybox", 0o755, bb),
		cw.File(contract.ArgvFile, 0o644, nul("/bin/busybox", "true")),
		cw.File(contract.EnvFile, 0o644, nul("PATH=/bin")),
		cw.File(contract.CwdFile, 0o644, []byte("/\n")),
		cw.Close(),
	)
	return errors.Join(err, f.Close())
}
