package preflight

import (
	"encoding/json"
	"fmt"
	"syscall"

	"github.com/gokmod/gokmod/pkg/kernel"
)

// Verdict is the outcome of a step or of a whole check.
type Verdict int

// Verdicts. The zero value is Unknown.
const (
	Unknown Verdict = iota // the step cannot tell
	Passed                 // the kernel would accept this step
	Failed                 // the kernel would refuse the module here
)

func (v Verdict) String() string {
	switch v {
	case Passed:
		return "passed"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// MarshalText writes the verdict's name, for JSON.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// The steps, in the kernel's order.
const (
	StepDecompress  = "decompress"
	StepSignature   = "signature"
	StepELF         = "elf"
	StepModversions = "modversions"
	StepVermagic    = "vermagic"
	StepLoaded      = "loaded"
	StepSymbols     = "symbols"
	StepParameters  = "parameters"
	StepSysfs       = "sysfs"
)

// Steps lists the step names in the order Check runs them.
var Steps = []string{StepDecompress, StepSignature, StepELF, StepModversions,
	StepVermagic, StepLoaded, StepSymbols, StepParameters, StepSysfs}

// Result is the outcome of one step.
type Result struct {
	Step    string        `json:"step"`
	Verdict Verdict       `json:"verdict"`
	Errno   syscall.Errno `json:"-"` // what the loader returns when Failed; 0 if it cannot be told
	// Kernel holds the lines the kernel logs for this step, without
	// their timestamp ("kaidock: Unknown symbol foo (err -2)").
	Kernel []string `json:"kernel,omitempty"`
	// Detail says what was compared, why the step is unknown, or what a
	// passed step noted (a taint, an ignored parameter).
	Detail string `json:"detail,omitempty"`
	// Providers names, for unknown symbols, the modules that export them
	// (modules.symbols): the ones to load first.
	Providers map[string][]string `json:"providers,omitempty"`
}

// MarshalJSON adds the errno's number and name.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		Errno     int    `json:"errno,omitempty"`
		ErrnoName string `json:"errno_name,omitempty"`
	}{plain(r), int(r.Errno), ErrnoName(r.Errno)})
}

// Report is the outcome of a check.
type Report struct {
	File    string        `json:"file"`
	Module  string        `json:"module,omitempty"`
	Target  string        `json:"target"`
	Steps   []Result      `json:"steps"`
	Verdict Verdict       `json:"verdict"`
	Errno   syscall.Errno `json:"-"` // the loader's errno when Failed; 0 if it cannot be told
	// Step is the step that decides the verdict: the first failed one,
	// or the first unknown one.
	Step string `json:"step,omitempty"`
}

// MarshalJSON adds the errno's number and name.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		plain
		Errno     int    `json:"errno,omitempty"`
		ErrnoName string `json:"errno_name,omitempty"`
	}{plain(r), int(r.Errno), ErrnoName(r.Errno)})
}

// decide sets the verdict from the steps: the kernel stops at the first
// failure, so a failure decides, with its errno only when every step
// before it passed (an unknown one could fail first, with another errno).
func (r *Report) decide() {
	r.Verdict, r.Errno, r.Step = Passed, 0, ""
	sure := true
	for _, s := range r.Steps {
		switch s.Verdict {
		case Failed:
			r.Verdict, r.Step = Failed, s.Step
			if sure {
				r.Errno = s.Errno
			}
			return
		case Unknown:
			if sure {
				r.Verdict, r.Step = Unknown, s.Step
			}
			sure = false
		}
	}
}

var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.ENOEXEC: "ENOEXEC",
	syscall.EEXIST: "EEXIST", syscall.EINVAL: "EINVAL", syscall.ENOSPC: "ENOSPC",
	syscall.ERANGE: "ERANGE", syscall.EBADMSG: "EBADMSG", syscall.EKEYREJECTED: "EKEYREJECTED",
	syscall.EOPNOTSUPP: "EOPNOTSUPP", syscall.EBUSY: "EBUSY", syscall.ENOMEM: "ENOMEM",
}

// ErrnoName is the errno's C name ("ENOEXEC"), or "" for 0.
func ErrnoName(e syscall.Errno) string {
	if e == 0 {
		return ""
	}
	if n, ok := errnoNames[e]; ok {
		return n
	}
	return fmt.Sprintf("errno %d", int(e))
}

// ErrnoText is the C library's text for e ("Exec format error").
func ErrnoText(e syscall.Errno) string { return kernel.Message(e) }
