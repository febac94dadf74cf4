package preflight

import (
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseParams(t *testing.T) {
	tests := []struct {
		in   string
		want []Param
	}{
		{"", nil},
		{"loop=1", []Param{{"loop", "1", true}}},
		{"  a=1   b  c=x=y ", []Param{{"a", "1", true}, {"b", "", false}, {"c", "x=y", true}}},
		{`s="a b" t=2`, []Param{{"s", "a b", true}, {"t", "2", true}}},
		{`"s=a b" t`, []Param{{"s", "a b", true}, {"t", "", false}}},
		{"a=1 -- b=2", []Param{{"a", "1", true}}},
	}
	for _, tt := range tests {
		if got := ParseParams(tt.in); !cmp.Equal(got, tt.want) {
			t.Errorf("ParseParams(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCheckValue(t *testing.T) {
	tests := []struct {
		typ, value string
		hasValue   bool
		want       syscall.Errno
		known      bool
	}{
		{"int", "42", true, 0, true},
		{"int", "-42", true, 0, true},
		{"int", "0x10", true, 0, true},
		{"int", "010", true, 0, true},
		{"int", "08", true, syscall.EINVAL, true},
		{"int", "abc", true, syscall.EINVAL, true},
		{"int", "", true, syscall.EINVAL, true},
		{"int", "1\n", true, 0, true},
		{"int", "2147483648", true, syscall.ERANGE, true},
		{"int", "-2147483648", true, 0, true},
		{"int", "", false, syscall.EINVAL, true},
		{"uint", "-1", true, syscall.EINVAL, true},
		{"uint", "+5", true, 0, true},
		{"short", "70000", true, syscall.ERANGE, true},
		{"byte", "255", true, 0, true},
		{"byte", "256", true, syscall.ERANGE, true},
		{"ullong", "18446744073709551616", true, syscall.ERANGE, true},
		{"long", "9223372036854775807", true, 0, true},
		{"bool", "y", true, 0, true},
		{"bool", "on", true, 0, true},
		{"bool", "maybe", true, syscall.EINVAL, true},
		{"bool", "", false, 0, true},
		{"invbool", "0", true, 0, true},
		{"charp", "hello", true, 0, true},
		{"charp", strings.Repeat("x", 1025), true, syscall.ENOSPC, true},
		{"charp", "", false, syscall.EINVAL, true},
		{"array of int", "7", true, 0, true},
		{"array of int", "1,x", true, syscall.EINVAL, true},
		{"array of int", "1,2", true, 0, false},
		{"string", "abc", true, 0, false},
		{"custom", "abc", true, 0, false},
	}
	for _, tt := range tests {
		got, known := checkValue(tt.typ, Param{Name: "p", Value: tt.value, HasValue: tt.hasValue})
		if got != tt.want || known != tt.known {
			t.Errorf("checkValue(%q, %q, %v) = %v, %v; want %v, %v", tt.typ, tt.value, tt.hasValue, got, known, tt.want, tt.known)
		}
	}
}

func TestParameters(t *testing.T) {
	m := base()
	m.info = []string{"license=GPL", "vermagic=" + testVermagic, "parmtype=loop:int", "parm=loop:the loop count", "parmtype=name:charp"}
	img := m.bytes()
	tests := []struct {
		params    string
		want      Verdict
		wantErrno syscall.Errno
		wantLine  string
	}{
		{"loop=3 name=x", Passed, 0, ""},
		{"bogus=1", Passed, 0, "fixture: unknown parameter 'bogus' ignored"},
		{"loop=x", Failed, syscall.EINVAL, "fixture: `x' invalid for parameter `loop'"},
		{"loop", Failed, syscall.EINVAL, "fixture: `' invalid for parameter `loop'"},
		{"loop=99999999999", Failed, syscall.ERANGE, "fixture: `99999999999' invalid for parameter `loop'"},
		{"name=" + strings.Repeat("n", 2000), Failed, syscall.ENOSPC, "too large for parameter `name'"},
		{"dyndbg=+p", Passed, 0, ""},
	}
	tg := offline(t, buildFS(""), OfflineOptions{})
	for _, tt := range tests {
		s := step(t, CheckImage(img, tt.params, tg), StepParameters)
		if s.Verdict != tt.want || s.Errno != tt.wantErrno {
			t.Errorf("parameters %q = %s %s (%s), want %s %s", tt.params, s.Verdict, ErrnoName(s.Errno), s.Detail, tt.want, ErrnoName(tt.wantErrno))
		}
		if got := strings.Join(s.Kernel, "\n"); !strings.Contains(got, tt.wantLine) || tt.wantLine == "" && got != "" {
			t.Errorf("parameters %q log %q, want %q", tt.params, got, tt.wantLine)
		}
	}
}

func FuzzParseParams(f *testing.F) {
	for _, s := range []string{"a=1 b", `s="a b"`, `"x=1`, "-- a", `a="`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range ParseParams(s) {
			if !p.HasValue && p.Name == "--" {
				t.Errorf("ParseParams(%q) passes on --", s)
			}
			checkValue("int", p)
			checkValue("array of bool", p)
		}
	})
}
