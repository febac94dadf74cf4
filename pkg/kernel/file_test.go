package kernel

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		max  int64
		want error // nil: reads "0123456789"
	}{
		{small, 10, nil},
		{small, 9, ErrTooLarge},
		{fifo, 10, ErrNotRegular},
		{dir, 10, unix.EISDIR},
		{"/dev/zero", 10, ErrNotRegular},
		{filepath.Join(dir, "missing"), 10, unix.ENOENT},
	}
	for _, tt := range tests {
		done := make(chan struct{})
		var b []byte
		var err error
		go func() { b, err = ReadFile(tt.path, tt.max); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("ReadFile(%q) blocked", tt.path)
		}
		switch {
		case tt.want == nil && (err != nil || string(b) != "0123456789"):
			t.Errorf("ReadFile(%q, %d) = %q, %v, want the file", tt.path, tt.max, b, err)
		case tt.want != nil && !errors.Is(err, tt.want):
			t.Errorf("ReadFile(%q, %d) = %v, want %v", tt.path, tt.max, err, tt.want)
		}
	}
}
