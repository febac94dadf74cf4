package link

import (
	"testing"
	"testing/fstest"
)

func TestDetectCPU(t *testing.T) {
	vuln := func(v2, retbleed, srso string) fstest.MapFS {
		return fstest.MapFS{
			"sys/devices/system/cpu/vulnerabilities/spectre_v2":           {Data: []byte(v2 + "\n")},
			"sys/devices/system/cpu/vulnerabilities/retbleed":             {Data: []byte(retbleed + "\n")},
			"sys/devices/system/cpu/vulnerabilities/spec_rstack_overflow": {Data: []byte(srso + "\n")},
		}
	}
	tests := []struct {
		name string
		fs   fstest.MapFS
		want CPU
	}{
		{"QEMU TCG under Debian (measured)", vuln("Mitigation: Retpolines; STIBP: disabled; RSB filling; PBRSB-eIBRS: Not affected; BHI: Not affected", "Not affected", "Not affected"), CPU{Retpoline: true}},
		{"Zen 2", vuln("Mitigation: Retpolines; IBPB: conditional; STIBP: always-on; RSB filling", "Mitigation: untrained return thunk; SMT enabled with STIBP protection", "Mitigation: Safe RET"), CPU{Retpoline: true, ReturnThunk: true}},
		{"eIBRS Intel", vuln("Mitigation: Enhanced / Automatic IBRS; IBPB: conditional", "Not affected", "Not affected"), CPU{}},
		{"Skylake stuffing", vuln("Mitigation: Retpolines", "Mitigation: Stuffing", ""), CPU{Retpoline: true, ReturnThunk: true, CallDepth: true}},
		{"LFENCE retpolines", vuln("Mitigation: LFENCE", "", ""), CPU{}},
		{"nothing known", fstest.MapFS{}, CPU{}},
		{"IBT", fstest.MapFS{"proc/cpuinfo": {Data: []byte("processor\t: 0\nflags\t\t: fpu sse ibt user_shstk\n")}}, CPU{IBT: true}},
	}
	for _, tt := range tests {
		if got := DetectCPU(tt.fs); got != tt.want {
			t.Errorf("%s: DetectCPU = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
