package getopt

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	opts := []Option{{Long: "all", Short: 'a'}, {Long: "basedir", Short: 'b', Arg: true}, {Long: "json"}, {Long: "jobs", Arg: true}}
	type got struct {
		Opts     []string
		Operands []string
		Err      string
	}
	for _, tc := range []struct {
		args []string
		want got
	}{
		{[]string{"-a", "x", "-bdir", "--json", "y"}, got{[]string{"a=false:", "b=false:dir", "json=true:"}, []string{"x", "y"}, ""}},
		{[]string{"--basedir", "d", "--jobs=3", "--", "-a"}, got{[]string{"b=true:d", "jobs=true:3"}, []string{"-a"}, ""}},
		{[]string{"--j"}, got{nil, nil, "p: option '--j' is ambiguous; possibilities: '--json' '--jobs'\n"}},
		{[]string{"-a", "-x"}, got{[]string{"a=false:"}, nil, "p: invalid option -- 'x'\n"}},
		{[]string{"-b"}, got{nil, nil, "p: option requires an argument -- 'b'\n"}},
		{[]string{"--all=1"}, got{nil, nil, "p: option '--all' doesn't allow an argument\n"}},
	} {
		found, operands, errMsg := Parse("p", tc.args, opts)
		g := got{Operands: operands, Err: errMsg}
		for _, p := range found {
			name := string(p.Opt.Short)
			if p.Opt.Short == 0 {
				name = p.Opt.Long
			}
			l := "false"
			if p.Long {
				l = "true"
			}
			g.Opts = append(g.Opts, name+"="+l+":"+p.Val)
		}
		if diff := cmp.Diff(tc.want, g); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tc.args, diff)
		}
	}
}
