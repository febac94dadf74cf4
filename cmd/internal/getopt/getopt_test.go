package getopt

import (
	"strings"
	"testing"
)

var opts = []Option{
	{Long: "remove", Short: 'r'},
	{Long: "remove-dependencies", ID: 5},
	{Long: "remove-holders", ID: 5},
	{Long: "force-modversion", ID: 2},
	{Long: "force-vermagic", ID: 1},
	{Long: "config", Short: 'C', Arg: true},
	{Long: "show", Short: 'n'},
	{Long: "show-depends", Short: 'D'},
}

func TestParse(t *testing.T) {
	tests := []struct {
		args     []string
		found    string // the options found, by long name
		operands string
		err      string
	}{
		{[]string{"--remove-", "x"}, "remove-dependencies", "x", ""},
		{[]string{"--force-=1"}, "", "", "p: option '--force-=1' is ambiguous; possibilities: '--force-modversion' '--force-vermagic'\n"},
		{[]string{"--show"}, "show", "", ""},
		{[]string{"--sh"}, "", "", "p: option '--sh' is ambiguous; possibilities: '--show' '--show-depends'\n"},
		{[]string{"--conf=a", "-Cb", "-C", "c", "x", "--", "-r"}, "config config config", "x -r", ""},
		{[]string{"-rx"}, "remove", "", "p: invalid option -- 'x'\n"},
		{[]string{"-C"}, "", "", "p: option requires an argument -- 'C'\n"},
		{[]string{"--config"}, "", "", "p: option '--config' requires an argument\n"},
		{[]string{"--remove=1"}, "", "", "p: option '--remove' doesn't allow an argument\n"},
		{[]string{"--nosuch"}, "", "", "p: unrecognized option '--nosuch'\n"},
	}
	for _, tt := range tests {
		found, operands, err := Parse("p", tt.args, opts)
		var names []string
		for _, f := range found {
			names = append(names, f.Opt.Long)
		}
		if got := strings.Join(names, " "); got != tt.found || strings.Join(operands, " ") != tt.operands || err != tt.err {
			t.Errorf("Parse(%q) = %q, %q, %q; want %q, %q, %q", tt.args, got, operands, err, tt.found, tt.operands, tt.err)
		}
	}
}
