package tests

import (
	"testing"
	"time"
)

// BenchmarkModprobe times loading and unloading the deepest chain of the
// guest's module tree (btrfs and its dependencies; kaidock_user on the
// secure flavour) with kmod's modprobe and with gomodprobe, alternately,
// in the same guest, and reports the medians and their ratio (gomodprobe
// / kmod; the target is at most 1.0). `make bench-modprobe-vm` runs it.
func BenchmarkModprobe(bb *testing.B) {
	p := newProbeBedB(bb)
	chain := p.chains()[0]
	start := loadedNames(bb)
	tools := []struct{ name, bin string }{{"kmod", p.kmod}, {"gokmod", p.ours}}
	cycle := func(i int) time.Duration {
		t0 := time.Now()
		if r := p.run(tools[i].bin, chain); r.code != 0 {
			bb.Fatalf("%s modprobe %s: %d %s", tools[i].name, chain, r.code, r.stderr)
		}
		if r := p.run(tools[i].bin, "-r", chain); r.code != 0 {
			bb.Fatalf("%s modprobe -r %s: %d %s", tools[i].name, chain, r.code, r.stderr)
		}
		d := time.Since(t0)
		p.unloadAllBut(start) // what -r leaves (soft dependencies), outside the timing
		return d
	}
	bb.Logf("chain %s", chain)
	benchAlternating(bb, cycle)
}
