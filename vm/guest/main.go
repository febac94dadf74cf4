package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gokmod/gokmod/vm/contract"
)

// waitTime is how long a finished command's children may keep its output
// open.
const waitTime = 5 * time.Second

func main() {
	status := run()
	if status != 0 {
		dumpKernelLog()
	}
	unix.Sync()
	// With QEMU's -no-reboot a restart ends the VM; tiny kernels have no ACPI
	// power-off.
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		fmt.Fprintf(os.Stderr, "init: reboot: %v\n", err)
	}
	select {}
}

func run() int {
	mountErr := mountAll()
	out, err := openPort(contract.OutPort)
	if err != nil {
		// Nothing to report to: the host times out and shows the kernel log.
		fmt.Fprintf(os.Stderr, "init: open %s: %v\n", contract.OutPort, err)
		return 1
	}
	t := &trackingWriter{w: out}
	status := 0
	if mountErr != nil {
		fmt.Fprintf(t, "init: %v\n", mountErr)
		status = 1
	} else {
		stop := heartbeat()
		status = runCommand(t)
		stop()
	}
	// The marker needs a line of its own; " +nl" tells the host that the
	// newline before it is not the command's, so it can drop it again.
	flag := ""
	if t.last != '\n' && t.n > 0 {
		_, _ = io.WriteString(out, "\n")
		flag = " " + contract.AddedNewline
	}
	fmt.Fprintf(out, "%s%d%s%s\n", contract.Marker, status, flag, contract.MarkerEnd)
	return status
}

func mountAll() error {
	mounts := []struct{ src, dir, fstype string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"tmpfs", "/run", "tmpfs"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", m.dir, err)
		}
		if err := unix.Mount(m.src, m.dir, m.fstype, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s: %w", m.dir, err)
		}
	}
	return os.Chmod("/tmp", 0o1777)
}

// openPort opens a serial port in raw mode, so that "\n" stays "\n".
func openPort(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	tio, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get termios: %w", err)
	}
	tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tio.Oflag &^= unix.OPOST
	tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tio.Cflag &^= unix.CSIZE | unix.PARENB
	tio.Cflag |= unix.CS8
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, tio); err != nil {
		f.Close()
		return nil, fmt.Errorf("set termios: %w", err)
	}
	return f, nil
}

func runCommand(out io.Writer) int {
	argv, err := readList(contract.ArgvFile)
	if err != nil || len(argv) == 0 {
		fmt.Fprintf(out, "init: read command: %v\n", errOr(err, "empty argv"))
		return 127
	}
	env, err := readList(contract.EnvFile)
	if err != nil {
		fmt.Fprintf(out, "init: read environment: %v\n", err)
		return 127
	}
	cwd := "/"
	if b, err := os.ReadFile(contract.CwdFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
		cwd = string(bytes.TrimSpace(b))
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		fmt.Fprintf(out, "init: mkdir %s: %v\n", cwd, err)
		return 127
	}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			os.Setenv(k, v)
		}
	}
	path := argv[0]
	if !strings.Contains(path, "/") {
		path, err = exec.LookPath(path)
		if err != nil {
			fmt.Fprintf(out, "init: %v\n", err)
			return 127
		}
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = env
	cmd.Dir = cwd
	cmd.Stdout = out
	cmd.Stderr = out
	// A background process that keeps the output open must not hang the VM.
	cmd.WaitDelay = waitTime
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			fmt.Fprintf(out, "init: %s: killed by %v\n", argv[0], ws.Signal())
			return 128 + int(ws.Signal())
		}
		return exit.ExitCode()
	default:
		fmt.Fprintf(out, "init: run %s: %v\n", argv[0], err)
		return 127
	}
}

func readList(name string) ([]string, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var list []string
	for _, s := range strings.Split(string(b), "\x00") {
		if s != "" {
			list = append(list, s)
		}
	}
	return list, nil
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// dumpKernelLog copies every record of /dev/kmsg to the kernel-log port, so
// that the log file on the host has the messages "quiet" kept off the
// console.
func dumpKernelLog() {
	// Raw syscalls: an *os.File opened O_NONBLOCK would park in the poller
	// at the end of the log instead of returning EAGAIN.
	fd, err := unix.Open("/dev/kmsg", unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	port, err := os.OpenFile(contract.LogPort, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return
	}
	defer port.Close()
	var out bytes.Buffer
	out.WriteString("\n---- gokmod: the whole kernel log (/dev/kmsg) ----\n")
	buf := make([]byte, 8192)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EPIPE) || errors.Is(err, unix.EINTR) {
			continue // a record was overwritten while reading
		}
		if err != nil || n <= 0 {
			break
		}
		rec := buf[:n]
		// "prio,seq,usec,flags;text\n": keep the time and the text.
		if hdr, text, ok := bytes.Cut(rec, []byte(";")); ok {
			if f := bytes.Split(hdr, []byte(",")); len(f) >= 3 {
				if us, err := strconv.ParseUint(string(f[2]), 10, 64); err == nil {
					fmt.Fprintf(&out, "[%5d.%06d] ", us/1e6, us%1e6)
				}
			}
			rec = text
		}
		out.Write(rec)
	}
	_, _ = port.Write(out.Bytes())
}

// heartbeat writes contract.Heartbeat to the kernel-log port at a steady
// pace until stop is called, so that the host can tell a stalled guest from
// a quiet command.
func heartbeat() (stop func()) {
	port, err := os.OpenFile(contract.LogPort, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(contract.HeartbeatSeconds * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_, _ = io.WriteString(port, contract.Heartbeat+"\n")
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		port.Close()
	}
}

// trackingWriter remembers the last byte written and how many were.
type trackingWriter struct {
	w    io.Writer
	last byte
	n    int64
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if n > 0 {
		t.last = p[n-1]
		t.n += int64(n)
	}
	return n, err
}
