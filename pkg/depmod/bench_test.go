package depmod

import "testing"

// BenchmarkDebian61 and BenchmarkDebian612 build Debian's trees in memory
// (no writes), for profiling; make bench-depmod compares with kmod.
func BenchmarkDebian61(b *testing.B) {
	src, kver := debian61(b)
	base := linkTree(b, src, kver)
	for i := 0; i < b.N; i++ {
		if _, err := Build(Options{BaseDir: base, KVer: kver, ConfigPaths: []string{}}); err != nil {
			b.Fatal(err)
		}
	}
}
func BenchmarkDebian612(b *testing.B) {
	src, kver := debian612(b)
	base := linkTree(b, src, kver)
	for i := 0; i < b.N; i++ {
		if _, err := Build(Options{BaseDir: base, KVer: kver, ConfigPaths: []string{}}); err != nil {
			b.Fatal(err)
		}
	}
}
