package kmodsign

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/gokmod/gokmod/cmd/internal/cliapp"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/moddb"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
	"github.com/gokmod/gokmod/pkg/modsig/signing"
)

// Version is what -V prints.
const Version = "gokmod version 1.0 (sign-file and kmodsign compatible)"

// usageStatus is sign-file's exit status for a usage error.
const usageStatus = 2

const usageText = `Usage: %[1]s [-dpkD] [--append] <hash algo> <key> <x509> <module> [<dest>]
       %[1]s -s [--append] <raw sig> <hash algo> <x509> <module> [<dest>]
       %[1]s [-dpkD] [--append] [-j N] <hash algo> <key> <x509> <module|dir>...
       %[1]s verify [--cert <x509>]... <module|dir>...
`

const helpText = `
Sign kernel modules the way the kernel's scripts/sign-file does, or check
their signatures.

Options:
  -d             write only the PKCS#7 signature, to <module>.p7s
  -p             also keep the PKCS#7 signature in <module>.p7s
  -D             write only the block to append (signature, struct
                 module_signature and magic), to <dest> or <module>.sig
  -k             identify the signer by the certificate's subject key id
  -s             append the PKCS#7 signature in <raw sig> (made elsewhere);
                 it must verify with <x509>
  --append       keep an existing signature and add a second one (by
                 default an existing signature is replaced)
  -m, --many     sign every module argument in place, even just two
  -j N           sign N modules at a time (default: four per CPU)
  -h, --help     show this help
  -V, --version  show the version

<hash algo> is sha1, sha224, sha256, sha384, sha512, sha3-256, sha3-384 or
sha3-512. <key> is a private key (RSA or ECDSA P-256/P-384) in PEM or DER,
<x509> its certificate in DER or PEM.

verify checks each module's appended signature as the kernel does and
prints ok, not signed, bad signature or unknown signer; it exits 1 unless
every module is ok. Without --cert it uses the MOK certificates of
Debian/Ubuntu's shim-signed and DKMS if they exist.
`

// defaultCerts are the certificates verify uses without --cert.
var defaultCerts = []string{"/var/lib/shim-signed/mok/MOK.der", "/var/lib/dkms/mok.pub"}

// Main runs gokmodsign.
func Main(env *tool.Env) int {
	flags := []cli.Flag{
		&cli.BoolFlag{Name: "d", Usage: "write only <module>.p7s"},
		&cli.BoolFlag{Name: "p", Usage: "also write <module>.p7s"},
		&cli.BoolFlag{Name: "D", Usage: "write only the block to append"},
		&cli.BoolFlag{Name: "k", Usage: "identify the signer by subject key id"},
		&cli.BoolFlag{Name: "s", Usage: "append a raw PKCS#7 signature"},
		&cli.BoolFlag{Name: "append", Usage: "keep an existing signature"},
		&cli.BoolFlag{Name: "many", Aliases: []string{"m"}, Usage: "sign every module in place"},
		&cli.IntFlag{Name: "j", Usage: "modules signed at a time"},
		&cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "show the version"},
	}
	u := &usager{}
	app := cliapp.New(env, "sign kernel modules", "", flags, func(c *cli.Context) error { return sign(c, env, u) })
	app.CustomAppHelpTemplate = fmt.Sprintf(usageText, env.Name()) + helpText
	app.Commands = []*cli.Command{{
		Name:      "verify",
		Usage:     "check module signatures",
		ArgsUsage: "[--cert X509]... MODULE|DIR...",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "cert", Usage: "a trusted certificate (DER or PEM)"},
			&cli.StringFlag{Name: tool.ImageLimitFlag, Usage: tool.ImageLimitUsage},
			&cli.StringFlag{Name: "kernel-release", Aliases: []string{"k"}, Usage: "answer for this kernel release (default: the running kernel's, with its /proc/crypto)"},
		},
		Action:             func(c *cli.Context) error { return verify(c, env, u) },
		CustomHelpTemplate: fmt.Sprintf(usageText, env.Name()) + helpText,
	}}
	status := cliapp.Run(env, app, usageStatus)
	if status == usageStatus && !u.printed {
		// A bad option: sign-file follows getopt's line with its usage.
		fmt.Fprintf(env.Stderr, usageText, env.Name())
	}
	return status
}

// usager prints the usage text once per run.
type usager struct{ printed bool }

func (u *usager) usage(env *tool.Env) error {
	fmt.Fprintf(env.Stderr, usageText, env.Name())
	u.printed = true
	return tool.Exit(usageStatus)
}

// job is one signing run, as the arguments describe it.
type job struct {
	ctx      context.Context
	env      *tool.Env
	opts     signing.Options
	modules  []string
	many     bool
	jobs     int
	keyPath  string
	certPath string
}

func sign(c *cli.Context, env *tool.Env, u *usager) error {
	if c.Bool("version") {
		fmt.Fprintf(env.Stdout, "%s: %s\n", env.Name(), Version)
		return nil
	}
	args := c.Args().Slice()
	if len(args) < 4 {
		return u.usage(env)
	}
	j := &job{env: env, many: c.Bool("many"), jobs: c.Int("j")}
	if c.Bool("d") && c.Bool("D") {
		env.Errorf("-d writes only the PKCS#7 signature and -D only the block to append: give one of them")
		return u.usage(env)
	}
	for _, a := range args {
		if a == "" {
			env.Errorf("an empty argument is not a file name")
			return u.usage(env)
		}
	}
	switch {
	case c.Bool("d"):
		j.opts.Output = signing.PKCS7Only
	case c.Bool("D"):
		j.opts.Output = signing.Detached
	case c.Bool("p"):
		j.opts.Output = signing.SignedAndPKCS7
	}
	j.opts.Append = c.Bool("append")
	hashName := args[0]
	var rawPath string
	if c.Bool("s") {
		rawPath, hashName = args[0], args[1]
		if c.Bool("d") || c.Bool("p") || c.Bool("k") {
			env.Errorf("-s appends a signature made elsewhere: -d, -p and -k do not apply")
			return u.usage(env)
		}
	} else {
		j.keyPath = args[1]
	}
	j.certPath = args[2]
	j.modules = args[3:]

	single, err := j.single()
	if err != nil {
		env.Errorf("%v", err)
		return tool.Exit(1)
	}
	if !single && rawPath != "" {
		env.Errorf("-s signs one module: a raw signature covers one module's content")
		return u.usage(env)
	}
	if j.jobs < 0 {
		env.Errorf("-j %d: want a positive number of jobs", j.jobs)
		return u.usage(env)
	}

	hash, err := modsig.HashByName(hashName)
	if err != nil {
		env.Errorf("%v", err)
		return tool.Exit(1)
	}
	cert, err := readCert(j.certPath)
	if err != nil {
		env.Errorf("%v", err)
		return tool.Exit(1)
	}
	if rawPath != "" {
		raw, err := kernel.ReadFile(rawPath, maxCredSize)
		if err != nil {
			env.Errorf("%v", err)
			return tool.Exit(1)
		}
		j.opts.RawSig, j.opts.Cert = raw, cert
	} else if j.opts.Signer, err = j.signer(cert, hash, c.Bool("k")); err != nil {
		return err
	}
	// SIGINT and SIGTERM stop a batch between modules: each module is
	// written whole or not at all, and the exit status is the shell's.
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, kernel.Interrupts...)
	defer signal.Stop(sigs)
	var caught atomic.Value
	go func() {
		select {
		case sig := <-sigs:
			caught.Store(sig)
			cancel(fmt.Errorf("%s", kernel.SignalName(sig)))
		case <-ctx.Done():
		}
	}()
	j.ctx = ctx
	var err2 error
	if single {
		err2 = j.signOne()
	} else {
		err2 = j.signMany()
	}
	if sig, ok := caught.Load().(os.Signal); ok {
		return tool.Exit(kernel.SignalStatus(sig))
	}
	return err2
}

// single reports whether the arguments name one module (and maybe a
// destination), as sign-file's do.
func (j *job) single() (bool, error) {
	if j.many || len(j.modules) > 2 {
		return false, nil
	}
	if fi, err := os.Stat(j.modules[0]); err == nil && fi.IsDir() {
		return false, nil
	}
	if len(j.modules) == 2 {
		if fi, err := os.Stat(j.modules[1]); err == nil && fi.IsDir() {
			return false, fmt.Errorf("destination %s is a directory (to sign every module in it too, add --many)", j.modules[1])
		}
	}
	if len(j.modules) == 2 {
		if j.modules[0] == j.modules[1] {
			j.modules = j.modules[:1] // sign-file: the same name means in place
		} else {
			j.opts.Dest = j.modules[1]
			j.modules = j.modules[:1]
		}
	}
	return true, nil
}

// maxCredSize caps a key, certificate or raw signature file: the largest
// of them (an RSA-16384 key in PEM) is about 13 KB.
const maxCredSize = 1 << 20

func readCert(path string) (*x509.Certificate, error) {
	data, err := kernel.ReadFile(path, maxCredSize)
	if err != nil {
		return nil, err
	}
	cert, err := cms.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cert, nil
}

func (j *job) signer(cert *x509.Certificate, hash crypto.Hash, bySKID bool) (*cms.Signer, error) {
	data, err := kernel.ReadFile(j.keyPath, maxCredSize)
	if err != nil {
		j.env.Errorf("%v", err)
		return nil, tool.Exit(1)
	}
	key, err := cms.ParsePrivateKey(data)
	if err != nil {
		j.env.Errorf("%s: %v", j.keyPath, err)
		return nil, tool.Exit(1)
	}
	s, err := cms.NewSigner(key, cert, cms.Options{Hash: hash, BySKID: bySKID})
	if err != nil {
		j.env.Errorf("%s and %s: %v", j.keyPath, j.certPath, err)
		if errors.Is(err, cms.ErrKeyMismatch) {
			j.env.Hintf("give the certificate made for this key (openssl req -x509 -key %s ...)", j.keyPath)
		}
		return nil, tool.Exit(1)
	}
	return s, nil
}

// clean removes what an interrupted run left in the directories of paths,
// and says so.
func (j *job) clean(paths ...string) {
	if removed := signing.Clean(signing.Dirs(paths...)); len(removed) > 0 {
		j.env.Infof("note: removed %d temporary files left by an interrupted run (such as %s)", len(removed), removed[0])
	}
}

func (j *job) signOne() error {
	j.clean(j.modules[0], j.opts.Dest)
	res, err := signing.File(j.modules[0], j.opts)
	if err == nil && res.Replaced {
		j.env.Infof("note: %s was already signed; its old signature was replaced (--append keeps it)", res.Path)
	}
	if err != nil {
		j.env.Errorf("%v", err)
		hint(j.env, err)
		return tool.Exit(1)
	}
	return nil
}

func hint(env *tool.Env, err error) {
	switch {
	case errors.Is(err, signing.ErrCompressed):
		env.Hintf("decompress it (xz -d, zstd -d, gzip -d), sign it, then compress it again")
	case errors.Is(err, modsig.ErrMalformed):
		env.Hintf("the module ends with a damaged signature; strip it (strip --strip-debug, or rebuild the module) before signing")
	}
}

func (j *job) signMany() error {
	modules, compressed, err := signing.Modules(j.modules)
	if err != nil {
		j.env.Errorf("%v", err)
		return tool.Exit(1)
	}
	if len(compressed) > 0 {
		j.env.Infof("note: skipped %d compressed modules (such as %s): decompress them, sign, compress again",
			len(compressed), compressed[0])
	}
	if len(modules) == 0 {
		j.env.Errorf("no modules (*.ko files) in %s", strings.Join(j.modules, " "))
		return tool.Exit(1)
	}
	j.clean(modules...)
	bar := newProgress(j.env.Stderr, len(modules))
	start := time.Now()
	results := signing.TreeContext(j.ctx, modules, j.opts, j.jobs, bar.update)
	bar.finish()
	replaced := 0
	for _, r := range results {
		if r.Replaced && r.Err == nil {
			replaced++
		}
		if r.Err != nil && !errors.Is(r.Err, signing.ErrInterrupted) {
			j.env.Errorf("%v", r.Err)
		}
	}
	failed := signing.Failed(results)
	if skipped := signing.Interrupted(results); skipped > 0 {
		j.env.Infof("interrupted by %v: signed %d of %d modules in %.2fs (%d had a signature that was replaced), %d failed, %d not started",
			context.Cause(j.ctx), len(modules)-failed, len(modules), time.Since(start).Seconds(), replaced, failed-skipped, skipped)
		return tool.Exit(1)
	}
	j.env.Infof("signed %d of %d modules in %.2fs (%d had a signature that was replaced), %d failed",
		len(modules)-failed, len(modules), time.Since(start).Seconds(), replaced, failed)
	if failed > 0 {
		return tool.Exit(1)
	}
	return nil
}

// progress draws a bar on a terminal and nothing elsewhere.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	total int
	tty   bool
	last  time.Time
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) update(done int) {
	if !p.tty {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if now := time.Now(); done < p.total && now.Sub(p.last) < 50*time.Millisecond {
		return
	} else {
		p.last = now
	}
	const width = 40
	n := done * width / p.total
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d", strings.Repeat("=", n), strings.Repeat(" ", width-n), done, p.total)
}

func (p *progress) finish() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func verify(c *cli.Context, env *tool.Env, u *usager) error {
	if c.NArg() == 0 {
		env.Errorf("verify: no module given")
		return u.usage(env)
	}
	certPaths := c.StringSlice("cert")
	if len(certPaths) == 0 {
		for _, p := range defaultCerts {
			if _, err := os.Stat(p); err == nil {
				certPaths = append(certPaths, p)
			}
		}
		if len(certPaths) == 0 {
			env.Errorf("verify: no certificate: give one with --cert")
			return u.usage(env)
		}
	}
	var certs []*x509.Certificate
	for _, p := range certPaths {
		cert, err := readCert(p)
		if err != nil {
			env.Errorf("%v", err)
			return tool.Exit(1)
		}
		certs = append(certs, cert)
	}
	modules, compressed, err := signing.Modules(c.Args().Slice())
	if err != nil {
		env.Errorf("%v", err)
		return tool.Exit(1)
	}
	modules = append(modules, compressed...)
	var files modfile.Config
	if v := c.String(tool.ImageLimitFlag); v != "" {
		if files.MaxSize, err = tool.ParseSize(v); err != nil {
			env.Errorf("--%s: %v", tool.ImageLimitFlag, err)
			return u.usage(env)
		}
	}
	rules, err := verifyRules(c.String("kernel-release"))
	if err != nil {
		env.Errorf("verify: %v", err)
		return u.usage(env)
	}
	bad := 0
	for _, m := range modules {
		line, ok := verifyOne(files, m, certs, rules)
		fmt.Fprintf(env.Stdout, "%s: %s\n", m, line)
		if !ok {
			bad++
		}
	}
	if bad > 0 {
		return tool.Exit(1)
	}
	return nil
}

// verifyRules are the kernel rules verify answers for: release's (its
// parser's rules; which hashes it has is then unknown, unless it is the
// running kernel), or the running kernel's, whose /proc/crypto and
// modules.alias say which hashes it has.
func verifyRules(release string) (cms.Rules, error) {
	running, _ := kernel.Release()
	var rules cms.Rules
	if release == "" {
		release = running
	}
	if release != "" {
		rel, err := modsig.ParseRelease(release)
		if err != nil {
			return rules, err
		}
		rules.Release = rel
	}
	if release != "" && release == running {
		if f, err := os.Open("/proc/crypto"); err == nil {
			db := moddb.Open("", running)
			inModule := func(name string) bool {
				mods, err := db.Alias("crypto-" + name)
				return err == nil && len(mods) > 0
			}
			rules.Digest, _ = cms.ProcCrypto(f, inModule)
			f.Close()
			return rules, nil
		}
	}
	rules.Digest = func(string) cms.Availability { return cms.Unknown }
	return rules, nil
}

// verifyOne checks one module as the kernel does (compressed ones are
// decompressed first, as the kernel does) and describes the outcome: ok,
// or why not, naming the kernel's rule and errno.
func verifyOne(files modfile.Config, path string, certs []*x509.Certificate, rules cms.Rules) (string, bool) {
	f, err := files.Open(path)
	if err != nil {
		return fmt.Sprintf("error: %v", err), false
	}
	defer f.Close()
	image, err := f.Bytes()
	if err != nil {
		return fmt.Sprintf("error: %s: %v", path, err), false
	}
	res := cms.Check(image, certs, rules)
	depends := ""
	if len(res.Depends) > 0 {
		depends = "; the verdict assumes " + strings.Join(res.Depends, " and ")
	}
	err = res.Err
	var re *modsig.RuleError
	errors.As(err, &re)
	switch {
	case err == nil:
		s := res.Message.Signers[res.Signer]
		who := fmt.Sprintf("%q", res.Cert.Issuer.CommonName)
		if s.ID.SKID != nil {
			who = fmt.Sprintf("key id %x", s.ID.SKID)
		}
		if n := len(res.Message.Signers); n > 1 {
			who += fmt.Sprintf(" (%d of %d)", res.Signer+1, n)
		}
		return fmt.Sprintf("ok (signer %s, %s %s, certificate %q)%s", who, s.KeyAlgo, s.HashName, res.Cert.Subject.CommonName, depends), true
	case errors.Is(err, cms.ErrNotSigned):
		return "not signed (" + re.Error() + ")", false
	case errors.Is(err, cms.ErrUnknownSigner):
		return fmt.Sprintf("unknown signer (%v)%s", re, depends), false
	}
	return fmt.Sprintf("bad signature (%v)%s", re, depends), false
}
