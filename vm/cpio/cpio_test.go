package cpio

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriterRoundTrip(t *testing.T) {
	cpioBin, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("cpio(1) not installed")
	}
	var buf bytes.Buffer
	w := NewWriter(&buf)
	steps := []error{
		w.File("/gokmod/bin/tool", 0o755, []byte("#!/bin/sh\necho hi\n")),
		w.Dir("tmp", 0o1777),
		w.Symlink("bin/sh", "busybox"),
		w.CharDev("dev/console", 0o600, 5, 1),
		w.File("a/b/c/odd", 0o644, []byte("12345")),
		w.Close(),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if buf.Len()%4 != 0 {
		t.Errorf("archive length %d is not a multiple of 4", buf.Len())
	}
	cmd := exec.Command(cpioBin, "-t", "-v", "--quiet")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("cpio -t line %q has too few fields", line)
		}
		got = append(got, f[0]+" "+f[len(f)-1])
	}
	want := []string{
		"drwxr-xr-x gokmod",
		"drwxr-xr-x gokmod/bin",
		"-rwxr-xr-x gokmod/bin/tool",
		"drwxrwxrwt tmp",
		"drwxr-xr-x bin",
		"lrwxrwxrwx busybox",
		"drwxr-xr-x dev",
		"crw------- dev/console",
		"drwxr-xr-x a",
		"drwxr-xr-x a/b",
		"drwxr-xr-x a/b/c",
		"-rw-r--r-- a/b/c/odd",
	}
	// cpio -tv prints "name -> target" for links and "maj, min" for devices:
	// the mode and the last field are compared.
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cpio -t listing mismatch (-want +got):\n%s", diff)
	}
}

func TestWriterErrors(t *testing.T) {
	tests := []struct {
		name string
		add  func(w *Writer) error
		want error
	}{
		{"empty name", func(w *Writer) error { return w.File("", 0o644, nil) }, ErrBadName},
		{"root", func(w *Writer) error { return w.Dir("/", 0o755) }, ErrBadName},
		{"dotdot", func(w *Writer) error { return w.File("../x", 0o644, nil) }, ErrBadName},
		{"trailer name", func(w *Writer) error { return w.File(trailer, 0o644, nil) }, ErrBadName},
		{"empty link", func(w *Writer) error { return w.Symlink("x", "") }, ErrBadName},
		{"after close", func(w *Writer) error { _ = w.Close(); return w.File("x", 0o644, nil) }, ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.add(NewWriter(&bytes.Buffer{}))
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}
