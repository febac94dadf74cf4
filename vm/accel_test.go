package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokmod/gokmod/vm/contract"
)

func TestDecideAccel(t *testing.T) {
	noDev := errors.New("open /dev/kvm: no such file or directory")
	probeFailed := errors.New("qemu: exit status 134")
	tests := []struct {
		name            string
		mode            string
		devErr, probe   error
		want            string // accelerator name, or "" for an error
		wantNote, wantE bool
	}{
		{"tcg forced, no device", accelTCG, noDev, errNotProbed, "tcg", false, false},
		{"tcg forced, good KVM", accelTCG, nil, nil, "tcg", false, false},
		{"auto, no device", accelAuto, noDev, errNotProbed, "tcg", false, false},
		{"auto, good KVM", accelAuto, nil, nil, "kvm", false, false},
		{"auto, broken KVM", accelAuto, nil, probeFailed, "tcg", true, false},
		{"kvm forced, good KVM", accelKVM, nil, nil, "kvm", false, false},
		{"kvm forced, broken KVM", accelKVM, nil, probeFailed, "", false, true},
		{"kvm forced, no device", accelKVM, noDev, errNotProbed, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, note, err := decideAccel(tt.mode, tt.devErr, tt.probe)
			if (err != nil) != tt.wantE {
				t.Fatalf("decideAccel(%q, %v, %v) error = %v, want error %v", tt.mode, tt.devErr, tt.probe, err, tt.wantE)
			}
			if err != nil {
				if !errors.Is(err, errKVMUnusable) || !strings.Contains(err.Error(), EnvAccel+"=kvm") {
					t.Errorf("decideAccel(%q, ...) error = %q, want errKVMUnusable naming %s=kvm", tt.mode, err, EnvAccel)
				}
				return
			}
			if a.Name != tt.want {
				t.Errorf("decideAccel(%q, %v, %v) = %s, want %s", tt.mode, tt.devErr, tt.probe, a.Name, tt.want)
			}
			if (note != "") != tt.wantNote {
				t.Errorf("decideAccel(%q, %v, %v) note = %q, want a note: %v", tt.mode, tt.devErr, tt.probe, note, tt.wantNote)
			}
			if tt.wantNote && !strings.Contains(note, "KVM is present but a test guest failed under it") {
				t.Errorf("note = %q", note)
			}
		})
	}
}

func TestParseAccelMode(t *testing.T) {
	for in, want := range map[string]string{"": "auto", "auto": "auto", "kvm": "kvm", "tcg": "tcg"} {
		if got, err := parseAccelMode(in); err != nil || got != want {
			t.Errorf("parseAccelMode(%q) = %q, %v, want %q", in, got, err, want)
		}
	}
	if _, err := parseAccelMode("hvf"); err == nil {
		t.Errorf("parseAccelMode(%q) = nil error, want one", "hvf")
	}
}

// fakeQEMU puts a qemu-system-x86_64 on PATH that runs script (sh) and
// appends its arguments to the returned log file.
func fakeQEMU(t *testing.T, script string) (calls string) {
	t.Helper()
	dir := t.TempDir()
	calls = filepath.Join(dir, "calls")
	body := "#!/bin/sh\necho \"$*\" >> " + calls + "\n" + script + "\n"
	if err := os.WriteFile(filepath.Join(dir, "qemu-system-x86_64"), []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
	return calls
}

// abortUnderKVM behaves like QEMU on a machine whose nested KVM is broken:
// an abort under -accel kvm, a guest that reports back under TCG.
const abortUnderKVM = `case "$*" in
*"-accel kvm"*)
	echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2
	echo "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion failed." >&2
	kill -ABRT $$ ;;
*) printf '` + contract.Marker + `0` + contract.MarkerEnd + `\n' ;;
esac`

func probeFixture(t *testing.T) (*Cache, *Kernel, string) {
	t.Helper()
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("no busybox (apt-get install busybox-static): the probe's initramfs needs it")
	}
	if _, err := os.Stat("/proc/sys/kernel/random/boot_id"); err != nil {
		t.Skip("no boot id to remember the probe by")
	}
	c := &Cache{Dir: t.TempDir()}
	if err := os.MkdirAll(c.path("tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	init := filepath.Join(t.TempDir(), "init")
	if err := os.WriteFile(init, []byte("not run by the fake qemu"), 0o755); err != nil {
		t.Fatal(err)
	}
	return c, &Kernel{Flavour: "fake", Image: "/nonexistent/vmlinuz"}, init
}

func countLines(t *testing.T, name string) int {
	t.Helper()
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func TestBrokenKVMFallsBackToTCG(t *testing.T) {
	calls := fakeQEMU(t, abortUnderKVM)
	c, k, init := probeFixture(t)
	devOpens := func() error { return nil }
	var log bytes.Buffer
	a, err := chooseAccel(context.Background(), c, k, init, "", devOpens, &log)
	if err != nil {
		t.Fatalf("chooseAccel(auto) error = %v", err)
	}
	if a.Name != "tcg" {
		t.Errorf("chooseAccel(auto) with an aborting KVM = %s, want tcg", a.Name)
	}
	if got := log.String(); !strings.HasPrefix(got, "gokmod-vm: KVM is present but a test guest failed under it (") ||
		!strings.HasSuffix(got, "); using TCG\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr = %q, want one line saying KVM failed and TCG is used", got)
	}
	if n := countLines(t, calls); n != 1 {
		t.Errorf("qemu ran %d times for the probe, want 1", n)
	}
	// The answer is remembered for this boot: no second probe.
	log.Reset()
	if a, err := chooseAccel(context.Background(), c, k, init, "", devOpens, &log); err != nil || a.Name != "tcg" {
		t.Errorf("second chooseAccel(auto) = %s, %v, want tcg", a.Name, err)
	}
	if n := countLines(t, calls); n != 1 {
		t.Errorf("qemu ran %d times after a remembered probe, want still 1", n)
	}
	// Forced KVM fails loudly instead of falling back.
	_, err = chooseAccel(context.Background(), c, k, init, accelKVM, devOpens, &log)
	if !errors.Is(err, errKVMUnusable) {
		t.Errorf("chooseAccel(kvm) with a broken KVM error = %v, want errKVMUnusable", err)
	}
	// Forced TCG never asks the device.
	asked := false
	if a, err := chooseAccel(context.Background(), c, k, init, accelTCG, func() error { asked = true; return nil }, &log); err != nil || a.Name != "tcg" || asked {
		t.Errorf("chooseAccel(tcg) = %s, %v (device asked: %v), want tcg without asking", a.Name, err, asked)
	}
}

func TestGoodKVMIsUsed(t *testing.T) {
	fakeQEMU(t, `printf '`+contract.Marker+`0`+contract.MarkerEnd+`\n'`)
	c, k, init := probeFixture(t)
	var log bytes.Buffer
	a, err := chooseAccel(context.Background(), c, k, init, "", func() error { return nil }, &log)
	if err != nil || a.Name != "kvm" {
		t.Errorf("chooseAccel(auto) with a working KVM = %s, %v, want kvm", a.Name, err)
	}
	if log.Len() != 0 {
		t.Errorf("stderr = %q, want nothing", log.String())
	}
}

func TestSpinningKVMGuestTimesOut(t *testing.T) {
	fakeQEMU(t, `exec sleep 60`)
	c, k, init := probeFixture(t)
	defer func(d time.Duration) { probeTimeout = d }(probeTimeout)
	probeTimeout = 2 * time.Second
	start := time.Now()
	var log bytes.Buffer
	a, err := chooseAccel(context.Background(), c, k, init, "", func() error { return nil }, &log)
	if err != nil || a.Name != "tcg" {
		t.Errorf("chooseAccel(auto) with a spinning guest = %s, %v, want tcg", a.Name, err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the probe took %v, want about %v", d, probeTimeout)
	}
	if !strings.Contains(log.String(), "timed out") {
		t.Errorf("stderr = %q, want the probe's time-out named", log.String())
	}
}

func TestStalledGuestIsNotAHang(t *testing.T) {
	// A guest that prints a line, then nothing on either port.
	fakeQEMU(t, `echo booting; exec sleep 60`)
	defer func(d time.Duration) { stallTimeout = d }(stallTimeout)
	stallTimeout = 2 * time.Second
	dir := t.TempDir()
	var out bytes.Buffer
	start := time.Now()
	_, err := boot(context.Background(), &bootSpec{
		Kernel: &Kernel{Flavour: "fake"}, Accel: kvm, Initrd: "/nonexistent",
		Timeout: time.Minute, Out: &out, LogPath: filepath.Join(dir, "kernel.log"),
	})
	if err == nil || !strings.Contains(err.Error(), "the guest stopped") || !strings.Contains(err.Error(), "kernel log: "+filepath.Join(dir, "kernel.log")) {
		t.Errorf("boot of a stalled guest error = %v, want a stop naming the kernel log", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("boot of a stalled guest took %v, want about %v", d, stallTimeout)
	}
}

func TestAbortingQEMUNamesTheLog(t *testing.T) {
	fakeQEMU(t, abortUnderKVM)
	dir := t.TempDir()
	var out bytes.Buffer
	_, err := boot(context.Background(), &bootSpec{
		Kernel: &Kernel{Flavour: "fake"}, Accel: kvm, Initrd: "/nonexistent",
		Timeout: time.Minute, Out: &out, LogPath: filepath.Join(dir, "kernel.log"),
	})
	if err == nil || !strings.Contains(err.Error(), "failed to set MSR") || !strings.Contains(err.Error(), "kernel log: ") {
		t.Errorf("boot under an aborting QEMU error = %v, want QEMU's message and the kernel log path", err)
	}
}
