package link

import (
	"fmt"
	"io/fs"
	"strings"
)

// DetectCPU tells from what a running kernel reports which of its
// post-link rewrites apply: /sys/devices/system/cpu/vulnerabilities says
// which mitigations are on, the "flags" line of /proc/cpuinfo whether the
// CPU has IBT. fsys is rooted at the system's "/". Missing files count as
// "no mitigation", which is what a kernel that does not know the issue
// does. Ftrace is taken as idle.
func DetectCPU(fsys fs.FS) CPU {
	read := func(name string) string {
		b, err := fs.ReadFile(fsys, "sys/devices/system/cpu/vulnerabilities/"+name)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	v2, retbleed, srso := read("spectre_v2"), read("retbleed"), read("spec_rstack_overflow")
	var cpu CPU
	cpu.Retpoline = strings.Contains(v2, "Retpolines") && !strings.Contains(v2, "LFENCE")
	for _, s := range []string{retbleed, srso} {
		if strings.Contains(s, "return thunk") || strings.Contains(s, "Safe RET") || strings.Contains(s, "Stuffing") {
			cpu.ReturnThunk = true
		}
	}
	cpu.CallDepth = strings.Contains(retbleed, "Stuffing")
	if b, err := fs.ReadFile(fsys, "proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
				cpu.IBT = strings.Contains(" "+v+" ", " ibt ")
				break
			}
		}
	}
	return cpu
}

// ParseCPU reads a comma-separated list of the features CPU describes:
// rethunk, retpoline, calldepth, ibt, ftrace; "none" for the zero CPU.
func ParseCPU(list string) (CPU, error) {
	var cpu CPU
	for _, f := range strings.Split(list, ",") {
		switch strings.TrimSpace(f) {
		case "none", "":
		case "rethunk":
			cpu.ReturnThunk = true
		case "retpoline":
			cpu.Retpoline = true
		case "calldepth":
			cpu.CallDepth = true
		case "ibt":
			cpu.IBT = true
		case "ftrace":
			cpu.FtraceActive = true
		default:
			return cpu, fmt.Errorf("unknown CPU feature %q (want rethunk, retpoline, calldepth, ibt, ftrace or none)", f)
		}
	}
	return cpu, nil
}

// String is the list ParseCPU reads.
func (c CPU) String() string {
	var fs []string
	for _, f := range []struct {
		on   bool
		name string
	}{{c.ReturnThunk, "rethunk"}, {c.Retpoline, "retpoline"}, {c.CallDepth, "calldepth"}, {c.IBT, "ibt"}, {c.FtraceActive, "ftrace"}} {
		if f.on {
			fs = append(fs, f.name)
		}
	}
	if len(fs) == 0 {
		return "none"
	}
	return strings.Join(fs, ",")
}
