package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gokmod/gokmod/vm/contract"
)

// result is one flavour's test run.
type result struct {
	Flavour              string
	Pass, Fail, Skip     int
	Status               int
	Err                  error
	Elapsed              time.Duration
	Output               bytes.Buffer
	failedNames, skipped []string
}

var resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// count tallies the "--- PASS/FAIL/SKIP" lines of `go test -v` output,
// subtests included.
func (r *result) count(out []byte) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := resultLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		switch m[1] {
		case "PASS":
			r.Pass++
		case "FAIL":
			r.Fail++
			r.failedNames = append(r.failedNames, m[2])
		case "SKIP":
			r.Skip++
		}
	}
}

func (r *result) ok() bool { return r.Err == nil && r.Status == 0 && r.Fail == 0 }

// cmdTest compiles tests/ once and runs the binary on every flavour.
func cmdTest(ctx context.Context, args []string) (int, error) {
	fs := newFlags("test")
	var kernels multiFlag
	fs.Var(&kernels, "kernel", "flavour")
	jobs := fs.Int("jobs", 2, "flavours run at once")
	timeout := fs.Duration("timeout", 20*time.Minute, "per flavour")
	if err := parse(fs, args); err != nil {
		return 2, err
	}
	names, err := kernelList(kernels, flavours)
	if err != nil {
		return 2, err
	}
	if *jobs < 1 {
		return 2, usagef("test: --jobs must be at least 1")
	}
	s, err := openSession(names)
	if err != nil {
		return 1, err
	}
	defer s.close()
	root, err := repoRoot()
	if err != nil {
		return 1, err
	}
	testBin := filepath.Join(s.tmp, "tests.test")
	fmt.Fprintf(os.Stderr, "gokmod-vm: compiling ./tests\n")
	if err := commandEnv(root, []string{"CGO_ENABLED=0"}, "go", "test", "-c", "-o", testBin, "./tests/"); err != nil {
		return 1, err
	}
	if _, err := os.Stat(testBin); err != nil {
		return 1, fmt.Errorf("./tests has no test files")
	}
	// The test binary's own timeout fires first and names the hung test.
	inner := *timeout - time.Minute
	if inner < *timeout/2 {
		inner = *timeout / 2
	}
	testArgs := append([]string{contract.Run + "/tests.test", "-test.v", "-test.count=1",
		"-test.timeout=" + inner.String()}, fs.Args()...)
	testdata := ""
	if st, err := os.Stat(filepath.Join(root, "tests", "testdata")); err == nil && st.IsDir() {
		testdata = filepath.Join(root, "tests", "testdata")
	}

	results := make([]*result, len(names))
	sem := make(chan struct{}, *jobs)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, name := range names {
		results[i] = &result{Flavour: name}
		wg.Add(1)
		go func(r *result) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			var out io.Writer = &r.Output
			if *jobs == 1 {
				out = io.MultiWriter(&r.Output, os.Stdout)
				fmt.Printf("==== %s ====\n", r.Flavour)
			}
			r.Status, r.Err = runGuest(ctx, s.c, s.ps[r.Flavour], s.ts, &guestCmd{
				Argv:    testArgs,
				Extra:   map[string]string{contract.Run + "/tests.test": testBin},
				Cwd:     contract.Pkg,
				CopyDir: testdata,
				Timeout: *timeout,
				Out:     out,
			})
			r.Elapsed = time.Since(start)
			r.count(r.Output.Bytes())
			if *jobs > 1 {
				mu.Lock()
				fmt.Printf("==== %s (%.1fs) ====\n", r.Flavour, r.Elapsed.Seconds())
				os.Stdout.Write(r.Output.Bytes())
				mu.Unlock()
			}
		}(results[i])
	}
	wg.Wait()

	fmt.Printf("\n%-10s %5s %5s %5s %8s  %s\n", "flavour", "pass", "fail", "skip", "time", "result")
	status := 0
	for _, r := range results {
		verdict := "ok"
		switch {
		case r.Err != nil:
			verdict = "ERROR: " + firstLine(r.Err.Error())
		case !r.ok():
			verdict = fmt.Sprintf("FAIL (exit status %d)", r.Status)
			if len(r.failedNames) > 0 {
				verdict += ": " + strings.Join(r.failedNames, " ")
			}
		}
		if !r.ok() {
			status = 1
		}
		fmt.Printf("%-10s %5d %5d %5d %7.1fs  %s\n", r.Flavour, r.Pass, r.Fail, r.Skip, r.Elapsed.Seconds(), verdict)
	}
	return status, nil
}

// commandEnv runs a command with extra environment, output to stderr.
func commandEnv(dir string, env []string, name string, args ...string) error {
	cmd := execCommand(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return nil
}
