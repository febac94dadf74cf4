package modprobe

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     Config
	}{
		{"alias", "alias my-fs vfat\n", Config{Aliases: []Alias{{Pattern: "my_fs", Module: "vfat", Source: Source{"f", 1}}}}},
		{"alias keeps dashes in brackets", "alias a-[0-9]-b x-y\n", Config{Aliases: []Alias{{Pattern: "a_[0-9]_b", Module: "x_y", Source: Source{"f", 1}}}}},
		{"options keep their spacing, tabs made spaces", "options vfat  a=1\tb=2\n", Config{Options: []Option{{Module: "vfat", Options: " a=1 b=2", Source: Source{"f", 1}}}}},
		{"continuation counts lines", "\noptions x a=1 \\\n b=2\n", Config{Options: []Option{{Module: "x", Options: "a=1  b=2", Source: Source{"f", 3}}}}},
		{"backslash drops itself", "alias a\\b c\n", Config{Aliases: []Alias{{Pattern: "ab", Module: "c", Source: Source{"f", 1}}}}},
		{"install and remove", "install m /bin/true $CMDLINE_OPTS\nremove m /bin/false\n", Config{
			Installs: []Command{{Module: "m", Command: "/bin/true $CMDLINE_OPTS", Source: Source{"f", 1}}},
			Removes:  []Command{{Module: "m", Command: "/bin/false", Source: Source{"f", 2}}}}},
		{"blacklist", "blacklist a-b\n", Config{Blacklists: []Blacklist{{Module: "a_b", Source: Source{"f", 1}}}}},
		{"softdep", "softdep m pre: a b post: c\n", Config{Softdeps: []Softdep{{Module: "m", Pre: []string{"a", "b"}, Post: []string{"c"}, Source: Source{"f", 1}}}}},
		{"softdep words before pre: are dropped", "softdep m x pre: a\n", Config{Softdeps: []Softdep{{Module: "m", Pre: []string{"a"}, Source: Source{"f", 1}}}}},
		{"leading blanks", "  \talias a b\n", Config{Aliases: []Alias{{Pattern: "a", Module: "b", Source: Source{"f", 1}}}}},
		{"comment", "# alias a b\n", Config{}},
		{"indented comment is a bad line", " # x\n", Config{Diags: []Diagnostic{{Kind: BadLine, Source: Source{"f", 1}, Word: "#"}}}},
		{"unknown directive", "frobnicate x\n", Config{Diags: []Diagnostic{{Kind: BadLine, Source: Source{"f", 1}, Word: "frobnicate"}}}},
		{"options without options", "options x\n", Config{Diags: []Diagnostic{{Kind: BadLine, Source: Source{"f", 1}, Word: "options"}}}},
		{"alias with one word", "alias x\n", Config{Diags: []Diagnostic{{Kind: BadLine, Source: Source{"f", 1}, Word: "alias"}}}},
		{"unbalanced bracket", "alias x[ y\n", Config{Diags: []Diagnostic{{Kind: BadLine, Source: Source{"f", 1}, Word: "alias"}}}},
		{"include is deprecated", "include /etc/x\n", Config{Diags: []Diagnostic{{Kind: Deprecated, Source: Source{File: "f"}, Word: "include"}}}},
		{"NUL ends the line", "alias a b\x00c d\n", Config{Aliases: []Alias{{Pattern: "a", Module: "b", Source: Source{"f", 1}}}}},
		{"no final newline", "blacklist z", Config{Blacklists: []Blacklist{{Module: "z", Source: Source{"f", 1}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			c.Parse(strings.NewReader(tt.in), "f")
			if diff := cmp.Diff(tt.want, c); diff != "" {
				t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestDiagnosticText(t *testing.T) {
	tests := []struct {
		d    Diagnostic
		want string
	}{
		{Diagnostic{Kind: BadLine, Source: Source{"a.conf", 3}, Word: "x"}, "a.conf line 3: ignoring bad line starting with 'x'"},
		{Diagnostic{Kind: Deprecated, Source: Source{File: "a.conf"}, Word: "include"}, "a.conf: command include is deprecated and not parsed anymore"},
		{Diagnostic{Kind: NestedDir, Source: Source{File: "/etc/modprobe.d"}, Word: "d.conf"}, "Directories inside directories are not supported: /etc/modprobe.d/d.conf"},
	}
	for _, tt := range tests {
		if got := tt.d.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		in         string
		options    []string
		blacklists []string
	}{
		{"quiet vfat.utf8=1 a-b.c=2 x.y", []string{"vfat utf8=1", "a_b c=2", "x y"}, nil},
		{"modprobe.blacklist=a,b-c root=/dev/sda", nil, []string{"a", "b-c"}},
		{`m.p="a b" n.q=1`, []string{`m p="a b"`, "n q=1"}, nil},
		{`"m.p=a b" z`, []string{`m p="a b"`}, nil}, // grub's quoting, moved before the value
		{"a.b.c=1 .x=1 m.=3", []string{" x=1", "m =3"}, nil},
		{"console=ttyS0 -- --init x.y=z", []string{"x y=z"}, nil},
	}
	for _, tt := range tests {
		var c Config
		c.ParseCmdline([]byte(tt.in))
		var opts, bls []string
		for _, o := range c.Options {
			opts = append(opts, o.Module+" "+o.Options)
		}
		for _, b := range c.Blacklists {
			bls = append(bls, b.Module)
		}
		if !cmp.Equal(opts, tt.options) || !cmp.Equal(bls, tt.blacklists) {
			t.Errorf("ParseCmdline(%q) = options %q blacklists %q, want %q %q", tt.in, opts, bls, tt.options, tt.blacklists)
		}
	}
}

func TestConfigFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/modprobe.d/b.conf":         {Data: []byte("alias b1 x\n")},
		"etc/modprobe.d/.hidden.conf":   {Data: []byte("alias h x\n")},
		"etc/modprobe.d/readme.txt":     {Data: []byte("alias r x\n")},
		"etc/modprobe.d/dir.conf/x":     {Data: []byte("")},
		"lib/modprobe.d/b.conf":         {Data: []byte("alias b2 x\n")},
		"lib/modprobe.d/a.conf":         {Data: []byte("alias a x\n")},
		"run/modprobe.d/c.alias":        {Data: []byte("alias c x\n")},
		"lib/modules/k/modules.softdep": {Data: []byte("softdep m pre: n\n")},
	}
	files, diags := ConfigFiles(fsys, "/lib/modules/k", DefaultConfigPaths)
	want := []string{"/lib/modprobe.d/a.conf", "/etc/modprobe.d/b.conf", "/run/modprobe.d/c.alias", "/lib/modules/k/modules.softdep"}
	if !cmp.Equal(files, want) {
		t.Errorf("ConfigFiles = %q, want %q", files, want)
	}
	if len(diags) != 1 || diags[0].Kind != NestedDir || diags[0].Word != "dir.conf" {
		t.Errorf("ConfigFiles diagnostics = %+v, want one for dir.conf", diags)
	}
	c := LoadConfig(fsys, "/lib/modules/k", DefaultConfigPaths, []byte("modprobe.blacklist=q"))
	var aliases []string
	for _, a := range c.Aliases {
		aliases = append(aliases, a.Pattern)
	}
	if !cmp.Equal(aliases, []string{"a", "b1", "c"}) || len(c.Softdeps) != 1 || len(c.Blacklists) != 1 {
		t.Errorf("LoadConfig: aliases %q, %d softdeps, %d blacklists; want a b1 c, 1, 1", aliases, len(c.Softdeps), len(c.Blacklists))
	}
}

func TestSoftdepString(t *testing.T) {
	s := Softdep{Pre: []string{"a", "b"}, Post: []string{"c"}}
	if got, want := s.String(), "pre: a bpost: c"; got != want {
		t.Errorf("String() = %q, want %q (kmod's missing space)", got, want)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("alias a b\noptions x y=1 \\\n z\nsoftdep m pre: a post: b\n"))
	f.Add([]byte("install x /bin/true\nremove x /bin/false\nblacklist y\n# c\n"))
	f.Add([]byte("alias a[ b\n\\"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Config
		c.Parse(strings.NewReader(string(data)), "fuzz")
		for _, a := range c.Aliases {
			if a.Pattern == "" || a.Module == "" || strings.ContainsAny(a.Pattern+a.Module, " \t\n") {
				t.Fatalf("bad alias %+v from %q", a, data)
			}
		}
		for _, o := range c.Options {
			if o.Module == "" || o.Options == "" || strings.Contains(o.Options, "\t") {
				t.Fatalf("bad option %+v from %q", o, data)
			}
		}
		for _, d := range c.Diags {
			if d.Error() == "" || d.Source.Line < 1 && d.Kind == BadLine {
				t.Fatalf("bad diagnostic %+v from %q", d, data)
			}
		}
		var k Config
		k.ParseCmdline(data)
	})
}
