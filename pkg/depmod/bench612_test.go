package depmod

import "testing"

func BenchmarkDebian612(b *testing.B) {
	src, kver := debian612(b)
	base := linkTree(b, src, kver)
	for i := 0; i < b.N; i++ {
		if _, err := Build(Options{BaseDir: base, KVer: kver, ConfigPaths: []string{}}); err != nil {
			b.Fatal(err)
		}
	}
}
