package tests

import (
	"sort"
	"testing"
	"time"
)

// BenchmarkInsmod times loading and unloading kaidock with kmod's insmod
// and rmmod and with goinsmod and gormmod, alternately, in the same guest,
// and reports the medians and their ratio (goinsmod / kmod; the target is
// at most 1.05). `make bench-insmod` runs it in the VM.
func BenchmarkInsmod(bb *testing.B) {
	b := newBed(bb)
	b.cleanup("kaidock")
	path := b.module("kaidock")
	tools := []struct{ name, insmod, rmmod string }{
		{"kmod", b.tool("", "insmod"), b.tool("", "rmmod")},
		{"gokmod", b.tool("goinsmod", "insmod"), b.tool("gormmod", "rmmod")},
	}
	cycle := func(i int) time.Duration {
		start := time.Now()
		if r := b.run(tools[i].insmod, path, "loop=1"); r.code != 0 {
			bb.Fatalf("%s insmod: %d %s", tools[i].name, r.code, r.stderr)
		}
		if r := b.run(tools[i].rmmod, "kaidock"); r.code != 0 {
			bb.Fatalf("%s rmmod: %d %s", tools[i].name, r.code, r.stderr)
		}
		return time.Since(start)
	}
	benchAlternating(bb, cycle)
}

// benchAlternating times cycle(0) (kmod) against cycle(1) (gokmod) bb.N
// times each, alternating which goes first so that neither always runs
// warm, after one warm-up of each; it reports the medians in milliseconds
// and their ratio (gokmod / kmod).
func benchAlternating(bb *testing.B, cycle func(tool int) time.Duration) {
	cycle(0)
	cycle(1)
	var times [2][]time.Duration
	bb.ResetTimer()
	for n := 0; n < bb.N; n++ {
		for k := range 2 {
			i := (k + n) % 2
			times[i] = append(times[i], cycle(i))
		}
	}
	bb.StopTimer()
	kmodMed := median(times[0]).Seconds() * 1000
	goMed := median(times[1]).Seconds() * 1000
	bb.ReportMetric(kmodMed, "kmod-ms/cycle")
	bb.ReportMetric(goMed, "gokmod-ms/cycle")
	bb.ReportMetric(goMed/kmodMed, "ratio")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
