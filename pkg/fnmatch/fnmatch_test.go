package fnmatch

import "testing"

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"a*", "a/b/c", true},
		{"*", "", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a[bc]d", "acd", true},
		{"a[!bc]d", "acd", false},
		{"a[^bc]d", "aed", true},
		{"a[0-9]", "a5", true},
		{"a[0-9]", "ax", false},
		{"a[]]b", "a]b", true},
		{"a[b", "a[b", true},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"usb:v*p*d*dc*dsc*dp*ic03isc01ip01in*", "usb:v1234p5678d0000dc00dsc00dp00ic03isc01ip01in00", true},
		{"*a*b*c*", "xxaxxbxxc", true},
		{"*a*b*c*", "xxaxxcxxb", false},
	} {
		if got := Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a*[b-d]?\\x", "abcx")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		Match(pattern, name)
		if !Match(pattern, pattern) && !containsMeta(pattern) {
			t.Errorf("Match(%q, itself) = false for a pattern without metacharacters", pattern)
		}
	})
}

func containsMeta(s string) bool {
	for _, c := range s {
		switch c {
		case '*', '?', '[', '\\':
			return true
		}
	}
	return false
}
