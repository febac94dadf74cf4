package main

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gokmod/gokmod/vm/contract"
)

//go:embed demo.sh
var demoScript []byte

var execCommand = exec.Command

// cmdDemo runs demo.sh: part "load" on debian612, part "sign" on secure.
func cmdDemo(ctx context.Context, args []string) (int, error) {
	if len(args) > 0 {
		return 2, usagef("demo: unexpected %q", args[0])
	}
	s, err := openSession([]string{"debian612", "secure"})
	if err != nil {
		return 1, err
	}
	defer s.close()
	script := filepath.Join(s.tmp, "demo.sh")
	if err := os.WriteFile(script, demoScript, 0o755); err != nil {
		return 1, err
	}
	for _, part := range []struct{ flavour, name string }{{"debian612", "load"}, {"secure", "sign"}} {
		p := s.ps[part.flavour]
		fmt.Printf("\n######## %s: Linux %s in QEMU ########\n", part.flavour, p.K.Release)
		status, err := runGuest(ctx, s.c, p, s.ts, &guestCmd{
			Argv:    []string{"/bin/sh", contract.Run + "/demo.sh", part.name},
			Extra:   map[string]string{contract.Run + "/demo.sh": script},
			Cwd:     contract.Modules,
			Timeout: 10 * time.Minute,
			Out:     os.Stdout,
		})
		if err != nil {
			return 1, err
		}
		if status != 0 {
			return status, fmt.Errorf("demo part %q on %s: exit status %d", part.name, part.flavour, status)
		}
	}
	return 0, nil
}
