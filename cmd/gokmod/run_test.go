package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func TestRun(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string // prefix
	}{
		{[]string{"gokmod"}, 1, "Usage:"},
		{[]string{"gokmod", "--help"}, 0, "Usage:"},
		{[]string{"gokmod", "nosuch"}, 1, `gokmod: ERROR: unknown command "nosuch"`},
		{[]string{"gokmod", "insmod"}, 1, "insmod: ERROR: missing filename.\n"},
		{[]string{"/sbin/insmod"}, 1, "insmod: ERROR: missing filename.\n"},
		{[]string{"/usr/bin/goinsmod", "-"}, 1, "goinsmod: ERROR: this tool does not support loading from stdin!\n"},
		{[]string{"gokmod", "rmmod"}, 1, "rmmod: ERROR: missing module name.\n"},
		{[]string{"lsmod", "extra"}, 1, "Usage: lsmod\n"},
		{[]string{"gokmod", "gormmod"}, 1, "gormmod: ERROR: missing module name.\n"},
		{[]string{"gokmod", "modinfo", "/nonexistent/x.ko"}, 1, "modinfo: ERROR: "},
		{[]string{"/bin/gomodinfo", "/nonexistent/x.ko"}, 1, "gomodinfo: ERROR: "},
		{[]string{"gokmod", "kmodsign"}, 2, "Usage:"},
		{[]string{"gokmod", "link"}, 1, "link: ERROR: missing module file.\n"},
		{[]string{"/usr/bin/gomodlink"}, 1, "gomodlink: ERROR: missing module file.\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(&tool.Env{Args: tt.args, Stdout: &out, Stderr: &errb})
			if code != tt.wantCode || !strings.HasPrefix(errb.String(), tt.wantStderr) {
				t.Errorf("run(%q) = %d, stderr %q; want %d, stderr starting %q", tt.args, code, errb.String(), tt.wantCode, tt.wantStderr)
			}
		})
	}
}
