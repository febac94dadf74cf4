package kernel

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMessageOf(t *testing.T) {
	tests := []struct {
		err, fallback error
		want          string
	}{
		{fmt.Errorf("open: %w", unix.ENOENT), EINVAL, "No such file or directory"},
		{&Error{Op: "init_module", Errno: unix.ENOEXEC}, EINVAL, "Exec format error"},
		{errors.New("no errno"), EINVAL, "Invalid argument"},
		{errors.New("no errno"), nil, "no errno"},
	}
	for _, tt := range tests {
		if got := MessageOf(tt.err, tt.fallback); got != tt.want {
			t.Errorf("MessageOf(%v, %v) = %q, want %q", tt.err, tt.fallback, got, tt.want)
		}
	}
}
