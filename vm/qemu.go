package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// marker must match the guest's (vm/guest).
const marker = "@@gokmod-exit "

// Kernel is one bootable kernel flavour with what modules need to be built
// for it.
type Kernel struct {
	Flavour  string
	Release  string // uname -r in the guest
	Image    string // what QEMU's -kernel gets
	BuildDir string // kbuild tree for M= builds
	SignFile string // the kernel's scripts/sign-file on the host, if any
	Append   string // extra kernel command line
	ID       string // cache name of the kernel artifact
}

// errNoStatus is returned when the guest ended without its exit line.
var errNoStatus = errors.New("guest ended without an exit status")

// bootSpec is one QEMU run.
type bootSpec struct {
	Kernel  *Kernel
	Initrd  string
	Timeout time.Duration
	Out     io.Writer // the command's output (second serial port)
	LogPath string    // kernel messages (first serial port)
}

func accel() []string {
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		return []string{"-accel", "kvm", "-cpu", "host"}
	}
	return []string{"-accel", "tcg"}
}

// boot runs the VM and returns the guest command's exit status.
func boot(ctx context.Context, s *bootSpec) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	cmdline := "console=ttyS0 panic=-1 quiet"
	if s.Kernel.Append != "" {
		cmdline += " " + s.Kernel.Append
	}
	args := append(accel(),
		"-m", "512", "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot",
		"-kernel", s.Kernel.Image, "-initrd", s.Initrd, "-append", cmdline,
		"-serial", "file:"+s.LogPath, "-serial", "stdio")
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", args...)
	cmd.WaitDelay = 5 * time.Second
	// If gokmod-vm itself is killed, QEMU goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var qerr tailBuffer
	cmd.Stderr = &qerr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return -1, err
	}
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("start qemu-system-x86_64 (apt-get install qemu-system-x86): %w", err)
	}
	status, werrOut := copyOutput(stdout, s.Out)
	if werrOut != nil {
		cancel()
		_, _ = io.Copy(io.Discard, stdout)
	}
	werr := cmd.Wait()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return -1, fmt.Errorf("%s: timed out after %v; kernel log: %s", s.Kernel.Flavour, s.Timeout, s.LogPath)
	case ctx.Err() != nil:
		return -1, fmt.Errorf("%s: interrupted; kernel log: %s", s.Kernel.Flavour, s.LogPath)
	case werr != nil:
		return -1, fmt.Errorf("%s: qemu: %w %s; kernel log: %s", s.Kernel.Flavour, werr, qerr.String(), s.LogPath)
	case status < 0:
		return -1, fmt.Errorf("%s: %w; kernel log: %s", s.Kernel.Flavour, errNoStatus, s.LogPath)
	}
	return status, nil
}

// copyOutput copies the guest's output port to w up to its exit marker and
// returns the status the marker carries (-1 without one). Each line is held
// back until the next one arrives: the guest may have added the newline that
// ends the last line before its marker ("+nl"), which is dropped again.
func copyOutput(r io.Reader, w io.Writer) (int, error) {
	status := -1
	br := bufio.NewReaderSize(r, 64<<10)
	var pending string
	var werr error
	emit := func(text string) {
		if text != "" && werr == nil {
			_, werr = io.WriteString(w, text)
		}
	}
	for werr == nil {
		line, rerr := br.ReadString('\n')
		if rest, ok := strings.CutPrefix(line, marker); ok {
			f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(rest), "@@"))
			if len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					status = n
					if len(f) > 1 && f[1] == "+nl" {
						pending = strings.TrimSuffix(pending, "\n")
					}
					emit(pending)
					pending = ""
					continue
				}
			}
		}
		emit(pending)
		pending = line
		if rerr != nil {
			break
		}
	}
	emit(pending)
	return status, werr
}
