package diagnose

import (
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
)

func recs(msgs ...string) []kernel.Record {
	var out []kernel.Record
	for i, m := range msgs {
		out = append(out, kernel.Record{Seq: uint64(i), Message: m})
	}
	return out
}

func kerr(e syscall.Errno) error { return &kernel.Error{Op: "finit_module", Errno: e} }

func TestLoadHint(t *testing.T) {
	tests := []struct {
		name string
		l    Load
		want []string // substrings the hint must hold; nil for no hint
	}{
		{"vermagic", Load{Name: "kaidock_badmagic", Err: kerr(syscall.ENOEXEC), Release: "6.1.0-56-amd64",
			Kmsg: recs("kaidock: jiffies 1", "kaidock_badmagic: version magic '5.10.0 SMP mod_unload' should be '6.1.0-56-amd64 SMP preempt mod_unload modversions'")},
			[]string{`"5.10.0 SMP mod_unload"`, `"6.1.0-56-amd64 SMP preempt mod_unload modversions"`, "/lib/modules/6.1.0-56-amd64/build", "--force-vermagic"}},
		{"module_layout", Load{Name: "m", Err: kerr(syscall.ENOEXEC), Kmsg: recs("m: disagrees about version of symbol module_layout")},
			[]string{"another kernel", "module_layout"}},
		{"symbol version", Load{Name: "m", Err: kerr(syscall.EINVAL), Kmsg: recs("m: disagrees about version of symbol printk", "m: Unknown symbol printk (err -22)")},
			[]string{"printk", "--force-modversion"}},
		{"unknown symbol with owner", Load{Name: "kaidock_user", Err: kerr(syscall.ENOENT),
			Kmsg:        recs("kaidock_user: Unknown symbol kaidock_shared (err -2)"),
			SymbolOwner: func(s string) string { return map[string]string{"kaidock_shared": "kaidock_export"}[s] }},
			[]string{"kaidock_shared is exported by module kaidock_export", "load kaidock_export first"}},
		{"unknown symbol nowhere", Load{Name: "kaidock_unknownsym", Err: kerr(syscall.ENOENT),
			Kmsg:        recs("kaidock_unknownsym: Unknown symbol no_such_symbol (err -2)"),
			SymbolOwner: func(string) string { return "" }},
			[]string{"exports no_such_symbol"}},
		{"gpl only", Load{Name: "kaidock_gplonly", Err: kerr(syscall.ENOENT), License: "Proprietary",
			Kmsg:         recs("kaidock_gplonly: module license 'Proprietary' taints kernel.", "kaidock_gplonly: Unknown symbol gpl_sym (err -2)"),
			KernelSymbol: func(s string) bool { return s == "gpl_sym" }},
			[]string{"GPL-only", `"Proprietary"`, "gpl_sym"}},
		{"gpl only from kmsg license", Load{Name: "g", Err: kerr(syscall.ENOENT),
			Kmsg: recs("g: module license 'Proprietary' taints kernel.", "g: Unknown symbol s (err -2)")},
			[]string{"not GPL-compatible", `"Proprietary"`, "if s is one"}},
		{"unsigned", Load{Name: "kaidock", Path: "kaidock.ko", Err: kerr(syscall.EKEYREJECTED), Kmsg: recs("Loading of unsigned module is rejected")},
			[]string{"enforces module signatures", "unsigned", "gokmodsign sha256 KEY.priv KEY.der kaidock.ko"}},
		{"untrusted", Load{Name: "kaidock", Path: "k.ko", Err: kerr(syscall.EKEYREJECTED), Kmsg: recs("Loading of module with unavailable key is rejected")},
			[]string{"does not trust", "gokmodsign"}},
		{"rejected without log", Load{Name: "kaidock", Path: "k.ko", Err: kerr(syscall.EKEYREJECTED)}, []string{"signature"}},
		{"exists", Load{Name: "kaidock", Err: kerr(syscall.EEXIST)}, []string{"already loaded", "gormmod kaidock"}},
		{"unknown param", Load{Name: "kaidock", Params: []string{"loop"}, Kmsg: recs("kaidock: unknown parameter 'lop' ignored")},
			[]string{"no parameter lop", "it takes: loop"}},
		{"invalid param", Load{Name: "kaidock", Err: kerr(syscall.EINVAL), Kmsg: recs("kaidock: `abc' invalid for parameter `loop'")},
			[]string{`"abc"`, "parameter loop"}},
		{"invalid param, straight quotes", Load{Name: "kaidock", Err: kerr(syscall.EINVAL), Kmsg: recs("kaidock: 'abc' invalid for parameter 'loop'")},
			[]string{`"abc"`, "parameter loop"}},
		{"eperm", Load{Name: "kaidock", Err: kerr(syscall.EPERM)}, []string{"CAP_SYS_MODULE", "root"}},
		{"enoexec", Load{Name: "x", Path: "x.ko", Err: kerr(syscall.ENOEXEC)}, []string{"not a kernel module", "gomodinfo x.ko"}},
		{"success", Load{Name: "kaidock", Kmsg: recs("kaidock: jiffies 1")}, nil},
		{"other module's noise", Load{Name: "kaidock", Err: kerr(syscall.EEXIST), Kmsg: recs("other: version magic 'a' should be 'b'")},
			[]string{"already loaded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.l.Hint()
			if tt.want == nil && got != "" {
				t.Errorf("Hint() = %q, want none", got)
			}
			if tt.want != nil && got == "" {
				t.Fatalf("Hint() = none, want one holding %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Hint() = %q, want it to hold %q", got, w)
				}
			}
		})
	}
}

func TestRelevant(t *testing.T) {
	l := Load{Name: "kaidock", Kmsg: recs("kaidock: jiffies 1", "kaidock_user: x", "Loading of unsigned module is rejected", "eth0: link up")}
	got := l.Relevant()
	if len(got) != 2 || got[0].Message != "kaidock: jiffies 1" || got[1].Message != "Loading of unsigned module is rejected" {
		t.Errorf("Relevant() = %+v, want the kaidock record and the loader's", got)
	}
}

func TestUnloadHint(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"holders", &loader.InUseError{Name: "kaidock_export", Holders: []string{"kaidock_user"}}, "gormmod kaidock_user kaidock_export"},
		{"refcnt", &loader.InUseError{Name: "kaidock_export", Refcnt: 1}, "holds a reference"},
		{"would block", &kernel.Error{Op: "delete_module", Errno: syscall.EWOULDBLOCK}, "holds a reference"},
		{"builtin", loader.ErrBuiltin, "built into the kernel"},
		{"not loaded", loader.ErrNotLoaded, "golsmod"},
		{"eperm", &kernel.Error{Op: "delete_module", Errno: syscall.EPERM}, "root"},
		{"no unload", loader.ErrNoUnload, "CONFIG_MODULE_UNLOAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Unload{Name: "kaidock_export", Err: tt.err}.Hint()
			if !strings.Contains(got, tt.want) {
				t.Errorf("Hint(%v) = %q, want it to hold %q", tt.err, got, tt.want)
			}
		})
	}
}
