package depmod

import (
	"os"
	"testing"
)

func TestQuickSystem(t *testing.T) {
	res, err := Build(Options{KVer: "6.1.0-56-amd64", ConfigPaths: []string{}, Log: func(l Level, s string) { t.Logf("%s: %s", l, s) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		want, _ := os.ReadFile("/lib/modules/6.1.0-56-amd64/" + f.Name)
		if string(want) != string(f.Data) {
			os.WriteFile("/tmp/got."+f.Name, f.Data, 0o644)
			t.Errorf("%s differs: %d vs %d bytes", f.Name, len(f.Data), len(want))
		}
	}
}
