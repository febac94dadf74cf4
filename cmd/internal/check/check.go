package check

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/gokmod/gokmod/cmd/internal/cliapp"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
	"github.com/gokmod/gokmod/pkg/preflight"
)

// Exit statuses.
const (
	WouldLoad  = 0
	WouldFail  = 1
	CannotTell = 2
)

// Options choose the target and the output.
type Options struct {
	Build string   // a kernel build directory: check against it instead of the running kernel
	Tree  string   // the module directory of that kernel (modules.dep, modules.symbols)
	Certs []string // certificate files the kernel trusts
	Root  string   // the running system's "/" (tests use fixtures)
	JSON  bool
	// SigEnforce ("yes", "no") and Lockdown say how the kernel of Build
	// is booted; "" leaves them unknown.
	SigEnforce, Lockdown string
}

// Flags are the options common to goinsmod --check and gokmod check.
func Flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print the reports as JSON"},
		&cli.StringFlag{Name: "build", Usage: "check against the kernel build directory `DIR` (Module.symvers, config) instead of the running kernel"},
		&cli.StringFlag{Name: "tree", Usage: "the module directory `DIR` of that kernel (modules.dep, modules.symbols)"},
		&cli.StringSliceFlag{Name: "cert", Usage: "a certificate `FILE` (DER or PEM) the kernel trusts for module signatures"},
		&cli.StringFlag{Name: "sig-enforce", Usage: "with --build: whether the kernel is booted enforcing signatures, `yes` or no (module.sig_enforce)"},
		&cli.StringFlag{Name: "lockdown", Usage: "with --build: the kernel's lockdown `MODE`: none, integrity or confidentiality"},
		&cli.StringFlag{Name: "root", Value: "/", Hidden: true, Usage: "the system's root directory"},
	}
}

// FromContext reads Flags.
func FromContext(c *cli.Context) Options {
	return Options{Build: c.String("build"), Tree: c.String("tree"), Certs: c.StringSlice("cert"),
		Root: c.String("root"), JSON: c.Bool("json"), SigEnforce: c.String("sig-enforce"), Lockdown: c.String("lockdown")}
}

// Main runs gokmod check.
func Main(env *tool.Env) int {
	flags := append(Flags(), &cli.StringFlag{Name: "params", Usage: "the parameter `STRING` each module would get (\"a=1 b=2\")"})
	app := cliapp.New(env, "say whether modules would load, and why not, without loading them", "FILE...", flags,
		func(c *cli.Context) error {
			if c.NArg() == 0 {
				env.Errorf("missing filename.")
				return tool.Exit(WouldFail)
			}
			return tool.Exit(Run(env, c.Args().Slice(), c.String("params"), FromContext(c)))
		})
	return cliapp.Run(env, app, 1)
}

// Run checks files with params against the target o names, prints the
// reports and returns the exit status.
func Run(env *tool.Env, files []string, params string, o Options) int {
	t, err := target(o)
	if err != nil {
		env.Errorf("%v", err)
		return WouldFail
	}
	status := WouldLoad
	var reports []*preflight.Report
	for i, file := range files {
		r, err := preflight.Check(file, params, t)
		if err != nil {
			env.Errorf("could not check module %s: %s", file, kernelText(err))
			status = WouldFail
			continue
		}
		reports = append(reports, r)
		switch r.Verdict {
		case preflight.Failed:
			status = WouldFail
		case preflight.Unknown:
			if status == WouldLoad {
				status = CannotTell
			}
		}
		if !o.JSON {
			if i > 0 {
				fmt.Fprintln(env.Stdout)
			}
			Print(env.Stdout, r)
		}
	}
	if o.JSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		var v any = reports
		if len(files) == 1 && len(reports) == 1 {
			v = reports[0]
		}
		if err := enc.Encode(v); err != nil {
			env.Errorf("%v", err)
			return WouldFail
		}
	}
	return status
}

// Print writes a report: a line per step (name, verdict, errno when it
// fails, what was found), the kernel's own lines under the step, and a
// last line with the verdict.
func Print(w io.Writer, r *preflight.Report) {
	for _, s := range r.Steps {
		what := s.Detail
		if s.Verdict == preflight.Failed && s.Errno != 0 {
			what = strings.TrimSuffix(preflight.ErrnoName(s.Errno)+": "+what, ": ")
		}
		fmt.Fprintf(w, "%-11s %-7s %s\n", s.Step, s.Verdict, what)
		for _, k := range s.Kernel {
			fmt.Fprintf(w, "%-11s %-7s kernel: %s\n", "", "", k)
		}
	}
	switch r.Verdict {
	case preflight.Passed:
		fmt.Fprintf(w, "%s: would load\n", r.File)
	case preflight.Failed:
		if r.Errno != 0 {
			fmt.Fprintf(w, "%s: would fail at %s: %s (%s)\n", r.File, r.Step, preflight.ErrnoName(r.Errno), preflight.ErrnoText(r.Errno))
		} else {
			fmt.Fprintf(w, "%s: would fail at %s\n", r.File, r.Step)
		}
	default:
		fmt.Fprintf(w, "%s: cannot tell: %s is unknown\n", r.File, r.Step)
	}
}

func target(o Options) (*preflight.Target, error) {
	var certs []*x509.Certificate
	for _, name := range o.Certs {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read certificate: %w", err)
		}
		c, err := cms.ParseCertificate(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		certs = append(certs, c)
	}
	var tree *preflight.Tree
	if o.Tree != "" {
		tree = preflight.NewTree(os.DirFS(o.Tree))
	}
	if o.Build != "" {
		if _, err := os.Stat(o.Build); err != nil {
			return nil, fmt.Errorf("build directory: %w", err)
		}
		opts := preflight.OfflineOptions{Tree: tree, Certs: certs}
		switch o.SigEnforce {
		case "":
		case "yes", "y", "1":
			opts.SigEnforce = preflight.Yes
		case "no", "n", "0":
			opts.SigEnforce = preflight.No
		default:
			return nil, fmt.Errorf("--sig-enforce %q: want yes or no", o.SigEnforce)
		}
		switch o.Lockdown {
		case "", "none", "integrity", "confidentiality":
			opts.Lockdown = o.Lockdown
		default:
			return nil, fmt.Errorf("--lockdown %q: want none, integrity or confidentiality", o.Lockdown)
		}
		t, err := preflight.Offline(os.DirFS(o.Build), o.Build, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Build, err)
		}
		return t, nil
	}
	root := o.Root
	if root == "" {
		root = "/"
	}
	return preflight.Live(os.DirFS(root), preflight.LiveOptions{Tree: tree, Certs: certs})
}

// kernelText is the C library's words for an errno in err, else err.
func kernelText(err error) string {
	if e := kernel.Errno(err); e != 0 {
		return kernel.Message(e)
	}
	return err.Error()
}
