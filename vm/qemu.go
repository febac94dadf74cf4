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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gokmod/gokmod/vm/contract"
)

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
	Accel   accelerator
	Initrd  string
	Timeout time.Duration
	Out     io.Writer // the command's output (second serial port)
	LogPath string    // kernel messages (first serial port)
}

// stallTimeout is how long a guest may go without a byte on either serial
// port before it is taken for dead: its /init writes a heartbeat to the
// kernel-log port every contract.HeartbeatSeconds, and a kernel boots in
// well under this even under TCG on a loaded machine.
var stallTimeout = 120 * time.Second

// boot runs the VM and returns the guest command's exit status.
func boot(ctx context.Context, s *bootSpec) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	cmdline := "console=ttyS0 panic=-1 quiet"
	if s.Kernel.Append != "" {
		cmdline += " " + s.Kernel.Append
	}
	args := append(append([]string(nil), s.Accel.Args...),
		"-m", "512", "-smp", "1", "-nodefaults", "-display", "none", "-no-reboot",
		"-kernel", s.Kernel.Image, "-initrd", s.Initrd, "-append", cmdline,
		"-serial", "file:"+s.LogPath, "-serial", "stdio")
	args = append(args, guestDevices...)
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
	act := newActivity(s.LogPath)
	stalled := act.watch(ctx, cancel, stallTimeout)
	status, werrOut := copyOutput(act.reader(stdout), s.Out)
	if werrOut != nil {
		cancel()
		_, _ = io.Copy(io.Discard, stdout)
	}
	werr := cmd.Wait()
	switch {
	case stalled():
		return -1, fmt.Errorf("%s: the guest stopped: nothing on either serial port for %v under %s; kernel log: %s",
			s.Kernel.Flavour, stallTimeout, s.Accel.Name, s.LogPath)
	case ctx.Err() == context.DeadlineExceeded:
		return -1, fmt.Errorf("%s: timed out after %v; kernel log: %s", s.Kernel.Flavour, s.Timeout, s.LogPath)
	case ctx.Err() != nil:
		return -1, fmt.Errorf("%s: interrupted; kernel log: %s", s.Kernel.Flavour, s.LogPath)
	case werr != nil:
		return -1, fmt.Errorf("%s: qemu under %s: %w %s; kernel log: %s", s.Kernel.Flavour, s.Accel.Name, werr, qerr.String(), s.LogPath)
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
		if rest, ok := strings.CutPrefix(line, contract.Marker); ok {
			f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(rest), contract.MarkerEnd))
			if len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					status = n
					if len(f) > 1 && f[1] == contract.AddedNewline {
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

// activity is when a guest last wrote to either serial port: the output
// pipe as it is read, the kernel-log file as it grows.
type activity struct {
	log  string
	last atomic.Int64 // unix nanoseconds
}

func newActivity(logPath string) *activity {
	a := &activity{log: logPath}
	a.last.Store(time.Now().UnixNano())
	return a
}

func (a *activity) reader(r io.Reader) io.Reader { return activityReader{r, a} }

type activityReader struct {
	r io.Reader
	a *activity
}

func (r activityReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.a.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// watch cancels the run when nothing arrived for limit; stalled says
// afterwards whether it did.
func (a *activity) watch(ctx context.Context, cancel func(), limit time.Duration) (stalled func() bool) {
	var fired atomic.Bool
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var size int64 = -1
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if st, err := os.Stat(a.log); err == nil && st.Size() != size {
				size = st.Size()
				a.last.Store(time.Now().UnixNano())
			}
			if time.Since(time.Unix(0, a.last.Load())) > limit {
				fired.Store(true)
				cancel()
				return
			}
		}
	}()
	return fired.Load
}
