package cliapp

import (
	"bytes"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func TestRunUsageErrors(t *testing.T) {
	tests := []struct {
		args       []string
		wantStatus int
		wantErr    string
	}{
		{[]string{"insmod", "--foo", "x"}, 1, "insmod: unrecognized option '--foo'\n"},
		{[]string{"insmod", "--foo=1", "x"}, 1, "insmod: unrecognized option '--foo'\n"},
		{[]string{"insmod", "-Z", "x"}, 1, "insmod: invalid option -- 'Z'\n"},
		{[]string{"insmod", "-F"}, 1, "insmod: option requires an argument -- 'F'\n"},
		{[]string{"insmod", "--field"}, 1, "insmod: option '--field' requires an argument\n"},
		{[]string{"sign-file", "-Z"}, 2, "sign-file: invalid option -- 'Z'\n"},
		{[]string{"insmod", "-v", "x"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.args[1], func(t *testing.T) {
			var stderr bytes.Buffer
			env := &tool.Env{Args: tt.args, Stdout: &bytes.Buffer{}, Stderr: &stderr}
			flags := []cli.Flag{
				&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}},
				&cli.StringFlag{Name: "field", Aliases: []string{"F"}},
			}
			app := New(env, "", "", flags, func(*cli.Context) error { return nil })
			status := 2
			if tt.args[0] == "insmod" {
				status = 1
			}
			if got := Run(env, app, status); got != tt.wantStatus {
				t.Errorf("Run(%q) = %d, want %d", tt.args, got, tt.wantStatus)
			}
			if got := stderr.String(); got != tt.wantErr {
				t.Errorf("Run(%q) printed %q, want %q", tt.args, got, tt.wantErr)
			}
		})
	}
}
