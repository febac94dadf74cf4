package modprobe

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/syslog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gokmod/gokmod/cmd/internal/explain"
	"github.com/gokmod/gokmod/cmd/internal/getopt"
	"github.com/gokmod/gokmod/cmd/internal/tool"
	"github.com/gokmod/gokmod/pkg/kernel"
	"github.com/gokmod/gokmod/pkg/loader"
	"github.com/gokmod/gokmod/pkg/modfile"
	"github.com/gokmod/gokmod/pkg/modprobe"
)

// Version is what -V prints on its first line.
const Version = "gokmod version 1.0 (kmod 30 compatible)"

// features is -V's second line, in kmod's format.
const features = "+ZSTD +XZ +ZLIB +LZ4 +LIBCRYPTO -EXPERIMENTAL"

// Option ids that have no short form, as kmod numbers them.
const (
	optForceVermagic   = 1
	optForceModversion = 2
	optFirstTime       = 3
	optShowModversions = 4
	optRemoveHolders   = 5
	optShowExports     = 6
	optJSON            = 1000
	optLoadDevices     = 1001
)

var options = []getopt.Option{
	{Long: "all", Short: 'a'},
	{Long: "remove", Short: 'r'},
	{Long: "remove-dependencies", ID: optRemoveHolders},
	{Long: "remove-holders", ID: optRemoveHolders},
	{Long: "wait", Short: 'w', Arg: true},
	{Long: "resolve-alias", Short: 'R'},
	{Long: "first-time", ID: optFirstTime},
	{Long: "ignore-install", Short: 'i'},
	{Long: "ignore-remove", Short: 'i'},
	{Long: "use-blacklist", Short: 'b'},
	{Long: "force", Short: 'f'},
	{Long: "force-modversion", ID: optForceModversion},
	{Long: "force-vermagic", ID: optForceVermagic},
	{Long: "show-depends", Short: 'D'},
	{Long: "showconfig", Short: 'c'},
	{Long: "show-config", Short: 'c'},
	{Long: "show-modversions", ID: optShowModversions},
	{Long: "dump-modversions", ID: optShowModversions},
	{Long: "show-exports", ID: optShowExports},
	{Long: "dry-run", Short: 'n'},
	{Long: "show", Short: 'n'},
	{Long: "config", Short: 'C', Arg: true},
	{Long: "dirname", Short: 'd', Arg: true},
	{Long: "set-version", Short: 'S', Arg: true},
	{Long: "syslog", Short: 's'},
	{Long: "quiet", Short: 'q'},
	{Long: "verbose", Short: 'v'},
	{Long: "version", Short: 'V'},
	{Long: "help", Short: 'h'},
	{Long: "json", ID: optJSON},
	{Long: "load-devices", ID: optLoadDevices},
}

const helpText = `Usage:
	%[1]s [options] [-i] [-b] modulename
	%[1]s [options] -a [-i] [-b] modulename [modulename...]
	%[1]s [options] -r [-i] modulename
	%[1]s [options] -r -a [-i] modulename [modulename...]
	%[1]s [options] -c
	%[1]s [options] --dump-modversions filename
Management Options:
	-a, --all                   Consider every non-argument to
	                            be a module name to be inserted
	                            or removed (-r)
	-r, --remove                Remove modules instead of inserting
	    --remove-dependencies   Deprecated: use --remove-holders
	    --remove-holders        Also remove module holders (use together with -r)
	-w, --wait <MSEC>           When removing a module, wait up to MSEC for
	                            module's refcount to become 0 so it can be
	                            removed (use together with -r)
	    --first-time            Fail if module already inserted or removed
	-i, --ignore-install        Ignore install commands
	-i, --ignore-remove         Ignore remove commands
	-b, --use-blacklist         Apply blacklist to resolved alias.
	-f, --force                 Force module insertion or removal.
	                            implies --force-modversions and
	                            --force-vermagic
	    --force-modversion      Ignore module's version
	    --force-vermagic        Ignore module's version magic

Query Options:
	-R, --resolve-alias         Only lookup and print alias and exit
	-D, --show-depends          Only print module dependencies and exit
	-c, --showconfig            Print out known configuration and exit
	-c, --show-config           Same as --showconfig
	    --show-modversions      Dump module symbol version and exit
	    --dump-modversions      Same as --show-modversions
	    --show-exports          Only print module exported symbol versions and exit
	    --json                  With -D, -c or -R: print JSON
	    --load-devices          Load what the devices in /sys/devices ask for (coldplug)

General Options:
	-n, --dry-run               Do not execute operations, just print out
	-n, --show                  Same as --dry-run
	-C, --config=FILE           Use FILE instead of default search paths
	-d, --dirname=DIR           Use DIR as filesystem root for /lib/modules
	-S, --set-version=VERSION   Use VERSION instead of ` + "`uname -r`" + `
	-s, --syslog                print to syslog, not stderr
	-q, --quiet                 disable messages
	-v, --verbose               enables more messages
	-V, --version               show version
	-h, --help                  show this help
`

// syslog(3) priorities, which kmod's log levels are.
const (
	logEmerg   = 0
	logCrit    = 2
	logErr     = 3
	logWarning = 4
	logNotice  = 5
)

// errFatal ends the run with status 1 after a fatal message, as kmod's
// log_printf exits.
var errFatal = errors.New("fatal")

// cmd is one run of modprobe.
type cmd struct {
	env     *tool.Env
	out     *bufio.Writer
	verbose int // the log level messages must reach to be printed
	logPrio int // the level of "LOG" messages: fatal, or a warning with -a

	doShow, dryRun, ignoreLoaded, lookupOnly bool
	firstTime, ignoreCommands, useBlacklist  bool
	force, stripModversion, stripVermagic    bool
	removeHolders, json                      bool
	wait                                     time.Duration
	envOpts                                  []string       // what MODPROBE_OPTIONS gains for commands
	useSyslog                                bool           // -s: messages go to the system log
	syslogNext                               bool           // -s given: used once the options are parsed
	logger                                   *syslog.Writer // opened on the first message
}

// Main runs modprobe with env and returns its exit status.
func Main(env *tool.Env) int {
	c := &cmd{env: env, out: bufio.NewWriterSize(env.Stdout, 64<<10), verbose: logWarning, logPrio: logCrit}
	defer c.out.Flush()
	err := c.run()
	if err != nil {
		return 1
	}
	return 0
}

// prependEnv splits MODPROBE_OPTIONS as kmod does (spaces separate,
// quotes group) and puts the words before the arguments.
func prependEnv(args []string, value string, set bool) []string {
	if !set {
		return args
	}
	var words []string
	b := []byte(value)
	start := 0
	quote := -1
	for i := 0; i < len(b); i++ {
		if quote < 0 {
			if b[i] == ' ' {
				words = append(words, string(b[start:i]))
				start = i + 1
			} else if b[i] == '"' || b[i] == '\'' {
				quote = i
			}
			continue
		}
		if b[i] != b[quote] {
			continue
		}
		if quote == start {
			words = append(words, string(b[start+1:i]))
			start = i + 1
		} else {
			// Drop both quote characters from the word.
			b = append(b[:quote], b[quote+1:]...)
			i--
			b = append(b[:i], b[i+1:]...)
			i--
		}
		quote = -1
	}
	if start < len(b) {
		words = append(words, string(b[start:]))
	}
	out := append([]string{args[0]}, words...)
	return append(out, args[1:]...)
}

func (c *cmd) printLog(prio int, format string, a ...any) error {
	if prio > c.verbose {
		return nil
	}
	c.out.Flush()
	if c.useSyslog {
		c.syslog(prio, fmt.Sprintf("%s: %s", prioName(prio), fmt.Sprintf(format, a...)))
	} else {
		fmt.Fprintf(c.env.Stderr, "%s: %s: %s", c.env.Name(), prioName(prio), fmt.Sprintf(format, a...))
	}
	if prio <= logCrit {
		return errFatal
	}
	return nil
}

func prioName(prio int) string {
	switch prio {
	case logCrit:
		return "FATAL"
	case logErr:
		return "ERROR"
	case logWarning:
		return "WARNING"
	case logNotice:
		return "NOTICE"
	}
	return fmt.Sprintf("LOG-%03d", prio)
}

// log is modprobe's LOG(): fatal, or a warning with -a.
func (c *cmd) log(format string, a ...any) error { return c.printLog(c.logPrio, format, a...) }

// errorf is modprobe's ERR().
func (c *cmd) errorf(format string, a ...any) { c.printLog(logErr, format, a...) }

// libkmodErr is an error libkmod logs through modprobe's log function
// (Debian builds kmod with its debug locations).
func (c *cmd) libkmodErr(where, format string, a ...any) {
	if logErr > c.verbose {
		return
	}
	c.out.Flush()
	if c.useSyslog {
		c.syslog(logErr, fmt.Sprintf("ERROR: ../libkmod/%s() %s", where, fmt.Sprintf(format, a...)))
		return
	}
	fmt.Fprintf(c.env.Stderr, "%s: ERROR: ../libkmod/%s() %s", c.env.Name(), where, fmt.Sprintf(format, a...))
}

// syslog sends a message to the system log (-s), as kmod does; without
// a log to send it to, it is dropped, as syslog(3) drops it.
func (c *cmd) syslog(prio int, msg string) {
	if c.logger == nil {
		w, err := syslog.New(syslog.LOG_DAEMON|syslog.Priority(prio), c.env.Name())
		if err != nil {
			return
		}
		c.logger = w
	}
	msg = strings.TrimSuffix(msg, "\n")
	switch prio {
	case logCrit:
		c.logger.Crit(msg)
	case logErr:
		c.logger.Err(msg)
	case logWarning:
		c.logger.Warning(msg)
	default:
		c.logger.Notice(msg)
	}
}

// hintf prints gokmod's extra line after an error, unless -q or -s.
func (c *cmd) hintf(format string, a ...any) {
	if c.verbose < logErr || c.useSyslog {
		return
	}
	c.out.Flush()
	c.env.Hintf(format, a...)
}

func (c *cmd) show(format string, a ...any) {
	if !c.doShow && c.verbose <= logWarning {
		return
	}
	fmt.Fprintf(c.out, format, a...)
	c.out.Flush()
}

func (c *cmd) run() error {
	args := c.env.Args
	if len(args) == 0 {
		args = []string{"modprobe"}
	}
	env, set := os.LookupEnv("MODPROBE_OPTIONS")
	args = prependEnv(args, env, set)
	found, operands, errMsg := getopt.Parse(args[0], args[1:], options)

	var configPaths []string
	var root, kver string
	var haveRoot, haveKver bool
	var useAll, doRemove, doShowConfig, doModversions, doExports, doDevices bool
	for _, p := range found {
		id := p.Opt.ID
		if id == 0 {
			id = int(p.Opt.Short)
		}
		switch id {
		case 'a':
			c.logPrio = logWarning
			useAll = true
		case 'r':
			doRemove = true
		case optRemoveHolders:
			c.removeHolders = true
		case 'w':
			ms, ok := parseWait(p.Val)
			if !ok {
				c.errorf("unexpected wait value '%s'.\n", p.Val)
				return errFatal
			}
			c.wait = time.Duration(ms) * time.Millisecond
		case optFirstTime:
			c.firstTime = true
		case 'i':
			c.ignoreCommands = true
		case 'b':
			c.useBlacklist = true
		case 'f':
			c.force = true
		case optForceModversion:
			c.stripModversion = true
		case optForceVermagic:
			c.stripVermagic = true
		case 'D':
			c.ignoreLoaded, c.dryRun, c.doShow = true, true, true
		case 'R':
			c.lookupOnly = true
		case 'c':
			doShowConfig = true
		case optShowModversions:
			doModversions = true
		case optShowExports:
			doExports = true
		case 'n':
			c.dryRun = true
		case 'C':
			configPaths = append(configPaths, p.Val)
			c.envOpts = append(c.envOpts, "-C", p.Val)
		case 'd':
			root, haveRoot = p.Val, true
		case 'S':
			kver, haveKver = p.Val, true
		case 's':
			c.envOpts = append(c.envOpts, "-s")
			c.syslogNext = true
		case 'q':
			c.envOpts = append(c.envOpts, "-q")
			c.verbose = logEmerg
		case 'v':
			c.envOpts = append(c.envOpts, "-v")
			c.verbose++
		case 'V':
			fmt.Fprintf(c.out, "%s\n%s\n", Version, features)
			return nil
		case 'h':
			fmt.Fprintf(c.out, helpText, c.env.Name())
			return nil
		case optJSON:
			c.json = true
		case optLoadDevices:
			doDevices = true
		}
	}
	if errMsg != "" {
		c.out.Flush()
		fmt.Fprint(c.env.Stderr, errMsg)
		return errFatal
	}
	c.useSyslog = c.syslogNext // kmod's log_open, after the options
	defer func() {
		if c.logger != nil {
			c.logger.Close()
		}
	}()
	if !doShowConfig && !doDevices && len(operands) == 0 {
		c.errorf("missing parameters. See -h.\n")
		return errFatal
	}

	opts := modprobe.Options{ConfigPaths: configPaths}
	if haveRoot || haveKver {
		opts.Root = root
		if !haveKver {
			rel, err := modprobe.KernelRelease()
			if err != nil {
				c.errorf("uname() failed: %v\n", err)
				return errFatal
			}
			kver = rel
		}
		opts.KernelRelease = kver
	}
	if len(c.envOpts) > 0 {
		opts.Run = c.runCommand
	}
	p, err := modprobe.New(opts)
	if err != nil {
		c.errorf("kmod_new() failed!\n")
		return errFatal
	}
	defer p.Close()
	c.configDiagnostics(p.Config().Diags)

	switch {
	case doShowConfig:
		return c.showConfig(p)
	case doDevices:
		return c.loadDevices(p)
	case doModversions:
		return c.showModversions(operands[0], false)
	case doExports:
		return c.showModversions(operands[0], true)
	case doRemove:
		var last error
		for _, a := range operands {
			if err := c.rmmod(p, a); err != nil {
				if errors.Is(err, errFatal) {
					return err
				}
				last = err
			}
		}
		return last
	case useAll:
		var last error
		for _, a := range operands {
			if err := c.insmod(p, a, ""); err != nil {
				if errors.Is(err, errFatal) {
					return err
				}
				last = err
			}
		}
		return last
	}
	return c.insmod(p, operands[0], optionsFromArgs(operands[1:]))
}

// parseWait is strtoul(s, &end, 0) that must use all of s.
func parseWait(s string) (uint64, bool) {
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if s == "" || t == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(t, 0, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) {
			return ^uint64(0), true
		}
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// optionsFromArgs joins the module parameters given after its name as
// kmod does, quoting a value with a space that is not quoted already.
func optionsFromArgs(args []string) string {
	var parts []string
	for _, a := range args {
		if i := strings.IndexByte(a, '='); i >= 0 {
			v := a[i+1:]
			if (v == "" || (v[0] != '"' && v[0] != '\'')) && strings.Contains(v, " ") {
				a = a[:i+1] + `"` + v + `"`
			}
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// configDiagnostics prints configuration problems with libkmod's default
// logger, as kmod_new does before modprobe sets up its own.
func (c *cmd) configDiagnostics(diags []modprobe.Diagnostic) {
	for _, d := range diags {
		var where string
		switch d.Kind {
		case modprobe.BadLine:
			where = "libkmod-config.c:712 kmod_config_parse"
		case modprobe.Deprecated:
			where = "libkmod-config.c:708 kmod_config_parse"
		case modprobe.NestedDir:
			where = "libkmod-config.c:772 conf_files_filter_out"
		case modprobe.BadCmdline:
			where = "libkmod-config.c:489 kcmdline_parse_result"
		}
		c.out.Flush()
		fmt.Fprintf(c.env.Stderr, "libkmod: ERROR ../libkmod/%s: %s\n", where, d.Error())
	}
}

// runCommand runs an install or remove command with MODPROBE_OPTIONS
// extended by -C, -q, -v and -s, as kmod passes them on.
func (c *cmd) runCommand(command, module string) error {
	env := os.Environ()
	value := strings.Join(c.envOpts, " ")
	if old, ok := os.LookupEnv("MODPROBE_OPTIONS"); ok {
		value = old + " " + value
	}
	env = append(env, "MODPROBE_OPTIONS="+value, "MODPROBE_MODULE="+module)
	return modprobe.RunShell(command, env)
}

func (c *cmd) showConfig(p *modprobe.Prober) error {
	cfg := p.Config()
	if c.json {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(cfg)
	}
	for _, b := range cfg.Blacklists {
		fmt.Fprintf(c.out, "blacklist %s\n", b.Module)
	}
	for _, i := range cfg.Installs {
		fmt.Fprintf(c.out, "install %s %s\n", i.Module, i.Command)
	}
	for _, r := range cfg.Removes {
		fmt.Fprintf(c.out, "remove %s %s\n", r.Module, r.Command)
	}
	for _, a := range cfg.Aliases {
		fmt.Fprintf(c.out, "alias %s %s\n", a.Pattern, a.Module)
	}
	for _, o := range cfg.Options {
		fmt.Fprintf(c.out, "options %s %s\n", o.Module, o.Options)
	}
	for _, s := range cfg.Softdeps {
		fmt.Fprintf(c.out, "softdep %s %s\n", s.Module, s.String())
	}
	c.out.WriteString("\n# End of configuration files. Dumping indexes now:\n\n")
	for _, idx := range []string{"modules.alias", "modules.symbols"} {
		if err := p.DumpIndex(c.out, idx); err != nil {
			continue
		}
	}
	return nil
}

func (c *cmd) showModversions(filename string, exports bool) error {
	f, err := modfile.Open(filename)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, kernel.ENOTDIR) {
		return c.log("Module %s not found.\n", filename)
	}
	what := "modversions"
	if exports {
		what = "symbols"
	}
	cannot := func(reason string) error {
		return c.log("could not get %s of %s: %s\n", what, filename, reason)
	}
	if err != nil {
		return cannot(errText(err))
	}
	defer f.Close()
	if exports {
		// kmod reads the names from __ksymtab_strings: without it, it
		// has no symbols to show.
		if _, ok := f.Section("__ksymtab_strings"); !ok {
			return cannot(kernel.Message(kernel.ENOENT))
		}
		syms, err := f.ExportedSymbols()
		if err != nil {
			return cannot(errText(err))
		}
		for _, s := range syms {
			fmt.Fprintf(c.out, "0x%08x\t%s\n", s.CRC, s.Name)
		}
		return nil
	}
	vers, err := f.Versions()
	if err != nil {
		return cannot(errText(err))
	}
	for _, v := range vers {
		fmt.Fprintf(c.out, "0x%08x\t%s\n", v.CRC, v.Name)
	}
	return nil
}

// errText is kmod's text for err: its errno's, EINVAL's when it has none.
func errText(err error) string { return kernel.MessageOf(err, kernel.EINVAL) }

func (c *cmd) insmod(p *modprobe.Prober, alias, extra string) error {
	if c.lookupOnly {
		mods, err := p.Lookup(alias)
		if err != nil || len(mods) == 0 {
			return c.notFound(p, alias)
		}
		if c.json {
			names := []string{}
			for _, m := range mods {
				names = append(names, m.Name)
			}
			return json.NewEncoder(c.out).Encode(map[string]any{"request": alias, "modules": names})
		}
		for _, m := range mods {
			fmt.Fprintf(c.out, "%s\n", m.Name)
		}
		return nil
	}
	io := modprobe.InsertOptions{
		Params:         extra,
		IgnoreCommands: c.ignoreCommands,
		IgnoreLoaded:   c.ignoreLoaded,
		UseBlacklist:   c.useBlacklist,
		FirstTime:      c.firstTime,
		Force: loader.Force{
			Modversions: c.stripModversion || c.force,
			Vermagic:    c.stripVermagic || c.force,
		},
	}
	plan, err := p.Insert(alias, io)
	if err != nil {
		return c.notFound(p, alias)
	}
	if c.json && c.doShow {
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(plan)
	}
	var kmsg *kernel.Kmsg
	if !c.dryRun {
		kmsg, _ = kernel.OpenKmsg() // without it there are no log lines to show
		if kmsg != nil {
			defer kmsg.Close()
		}
	}
	eo := modprobe.ExecOptions{
		DryRun: c.dryRun,
		Show: func(st modprobe.Step) {
			if line := st.Line(); line != "" {
				c.show("%s", line)
			}
		},
		Report: func(st modprobe.Step, err error) {
			c.reportStep(st, err)
		},
	}
	err = p.Execute(context.Background(), plan, eo)
	if err == nil {
		return nil
	}
	var recs []kernel.Record
	if kmsg != nil {
		recs, _ = kmsg.Read()
	}
	for _, e := range joined(err) {
		var le *modprobe.LoadError
		if !errors.As(e, &le) {
			continue
		}
		c.errorf("could not insert '%s': %s\n", le.Module, insertReason(le.Err))
		c.explain(le, recs)
	}
	return err
}

func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// reportStep prints what libkmod logs when a step fails.
func (c *cmd) reportStep(st modprobe.Step, err error) {
	var ce *modprobe.CommandError
	switch {
	case errors.As(err, &ce) && ce.Status >= 0:
		c.libkmodErr("libkmod-module.c:1047 command_do", "Error running install command '%s' for module %s: retcode %d\n", st.Run, st.Module, ce.Status)
	case errors.As(err, &ce):
		c.libkmodErr("libkmod-module.c:1041 command_do", "Could not run install command '%s' for module %s: %s\n", st.Run, st.Module, errText(ce.Err))
	case errors.Is(err, modprobe.ErrNoFile):
		c.libkmodErr("libkmod-module.c:895 kmod_module_insert_module", "could not find module by name='%s'\n", st.Module)
	}
}

// insertReason is kmod's wording for a failed load.
func insertReason(err error) string {
	switch {
	case errors.Is(err, modprobe.ErrAlreadyLoaded):
		return "Module already in kernel"
	case errors.Is(err, modprobe.ErrCommand):
		return "Invalid argument"
	case errors.Is(err, modprobe.ErrNoFile), errors.Is(err, kernel.ENOENT):
		return "Unknown symbol in module, or unknown parameter (see dmesg)"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err.Error()
	}
	return errText(err)
}

// explain prints gokmod's lines after a failed target: the configuration
// line behind the failing step, or the kernel's log and a hint.
func (c *cmd) explain(le *modprobe.LoadError, recs []kernel.Record) {
	st := le.Step
	switch {
	case errors.Is(le.Err, modprobe.ErrCommand) && len(st.Sources) > 0:
		c.hintf("%s is installed by the command '%s' of %s", st.Module, st.Command, st.Sources[len(st.Sources)-1])
	case errors.Is(le.Err, modprobe.ErrNoFile) && len(st.Sources) > 0:
		c.hintf("%s has no file in %s: the alias of %s names it", st.Module, "modules.dep", st.Sources[len(st.Sources)-1])
	case st.Action == modprobe.Load && c.verbose >= logErr && !c.useSyslog:
		c.out.Flush()
		explain.Load(c.env.Stderr, st.Path, le.Err, recs)
		if len(st.Sources) > 0 {
			var srcs []string
			for _, s := range st.Sources {
				srcs = append(srcs, s.String())
			}
			c.hintf("its parameters %q come from %s", st.Params, strings.Join(srcs, ", "))
		}
	}
}

func (c *cmd) notFound(p *modprobe.Prober, alias string) error {
	if err := c.log("Module %s not found in directory %s\n", alias, p.Dir()); err != nil {
		return err
	}
	return modprobe.ErrNotFound
}

func (c *cmd) rmmod(p *modprobe.Prober, alias string) error {
	ro := modprobe.RemoveOptions{
		IgnoreCommands: c.ignoreCommands,
		RemoveHolders:  c.removeHolders,
		FirstTime:      c.firstTime,
		Force:          c.force,
		Wait:           c.wait,
		KeepGoing:      c.logPrio != logCrit || c.verbose < logCrit,
	}
	plan, err := p.Remove(context.Background(), alias, ro)
	if errors.Is(err, modprobe.ErrNotFound) || errors.Is(err, modprobe.ErrBadAlias) {
		if lerr := c.log("Module %s not found.\n", alias); lerr != nil {
			return lerr
		}
		return err
	}
	var fatal error
	eo := modprobe.ExecOptions{
		DryRun: c.dryRun,
		Show: func(st modprobe.Step) {
			if line := st.Line(); line != "" {
				c.show("%s", line)
			}
		},
		Report: func(st modprobe.Step, err error) {
			if ferr := c.reportRemove(st, err); ferr != nil && fatal == nil {
				fatal = ferr
			}
		},
	}
	err = p.Execute(context.Background(), plan, eo)
	if fatal != nil {
		return fatal
	}
	return err
}

// reportRemove prints what kmod prints for a failed unload step; a
// fatal message is errFatal.
func (c *cmd) reportRemove(st modprobe.Step, err error) error {
	var re *modprobe.RemoveError
	if !errors.As(err, &re) {
		return nil
	}
	switch {
	case re.Notice != nil:
		ferr := c.log("%s\n", re.Notice.String())
		if re.Notice.Kind == modprobe.NoticeInUse && len(re.Notice.Holders) > 0 {
			c.hintf("%s is used by %s: remove them first, or use --remove-holders", re.Module, strings.Join(re.Notice.Holders, " "))
		}
		return ferr
	case re.Command != nil:
		ferr := c.log("Error running remove command for %s\n", re.Module)
		c.hintf("the remove command of %s is '%s' from %s", re.Module, re.Command.Command, re.Command.Source)
		return ferr
	case c.wait > 0:
		c.errorf("could not remove '%s': %s\n", re.Module, errText(re.Err))
	default:
		c.libkmodErr("libkmod-module.c:856 kmod_module_remove_module", "could not remove '%s': %s\n", re.Module, errText(re.Err))
	}
	return nil
}

// loadDevices loads the modules the devices present ask for: their
// modalias files, resolved in one batch and loaded in parallel.
func (c *cmd) loadDevices(p *modprobe.Prober) error {
	var mu sync.Mutex
	opts := modprobe.BatchOptions{
		InsertOptions: modprobe.InsertOptions{
			IgnoreCommands: c.ignoreCommands,
			UseBlacklist:   c.useBlacklist,
			Force:          loader.Force{Modversions: c.stripModversion || c.force, Vermagic: c.stripVermagic || c.force},
		},
		ExecOptions: modprobe.ExecOptions{
			DryRun: c.dryRun,
			Show: func(st modprobe.Step) {
				if line := st.Line(); line != "" {
					mu.Lock()
					c.show("%s", line)
					mu.Unlock()
				}
			},
		},
	}
	aliases, errs, err := p.Coldplug(context.Background(), opts)
	if err != nil {
		c.errorf("%v\n", err)
		return err
	}
	var last error
	for i, err := range errs {
		for _, e := range joined(err) {
			var le *modprobe.LoadError
			if errors.As(e, &le) {
				c.errorf("could not insert '%s': %s\n", le.Module, insertReason(le.Err))
				c.hintf("the device alias was %s", aliases[i])
				last = e
			}
		}
	}
	return last
}
