package depmod

import "testing"

// BenchmarkDebian61 builds Debian's 6.1 tree in memory (no writes).
func BenchmarkDebian61(b *testing.B) {
	src, kver := debian61(b)
	base := linkTree(b, src, kver)
	for i := 0; i < b.N; i++ {
		if _, err := Build(Options{BaseDir: base, KVer: kver, ConfigPaths: []string{}}); err != nil {
			b.Fatal(err)
		}
	}
}
