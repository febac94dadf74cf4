package modinfo

import (
	"fmt"
	"io"
	"strings"
)

// option is one command-line option as getopt_long(3) describes it.
type option struct {
	long  string // "" when there is no long form
	short byte   // 0 when there is no short form
	arg   bool   // takes a required argument
}

// parsed is one option found on the command line.
type parsed struct {
	opt *option
	val string
}

// getopt parses args (without argv[0]) as glibc's getopt_long does for
// kmod: options and operands may be mixed (operands are collected in
// order), "--" ends the options, long options may be abbreviated to a
// unique prefix. A bad option ends the parse with errMsg set to glibc's
// message, prefixed by argv0 as given; the options before it are still
// returned, for the caller to act on first, as getopt_long hands them to
// it one by one.
func getopt(argv0 string, args []string, opts []option) (found []parsed, operands []string, errMsg string) {
	var stderr strings.Builder
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return found, append(operands, args[i+1:]...), ""
		case strings.HasPrefix(a, "--"):
			p, consumed, good := parseLong(argv0, a[2:], args[i+1:], opts, &stderr)
			if !good {
				return found, operands, stderr.String()
			}
			i += consumed
			found = append(found, p)
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := findShort(opts, a[j])
				if o == nil {
					fmt.Fprintf(&stderr, "%s: invalid option -- '%c'\n", argv0, a[j])
					return found, operands, stderr.String()
				}
				if !o.arg {
					found = append(found, parsed{opt: o})
					continue
				}
				if j+1 < len(a) {
					found = append(found, parsed{opt: o, val: a[j+1:]})
				} else if i+1 < len(args) {
					i++
					found = append(found, parsed{opt: o, val: args[i]})
				} else {
					fmt.Fprintf(&stderr, "%s: option requires an argument -- '%c'\n", argv0, a[j])
					return found, operands, stderr.String()
				}
				break
			}
		default:
			operands = append(operands, a)
		}
	}
	return found, operands, ""
}

func findShort(opts []option, c byte) *option {
	for i := range opts {
		if opts[i].short == c && c != 0 {
			return &opts[i]
		}
	}
	return nil
}

func parseLong(argv0, text string, rest []string, opts []option, stderr io.Writer) (parsed, int, bool) {
	name, val, hasVal := strings.Cut(text, "=")
	var match *option
	var candidates []*option
	for i := range opts {
		o := &opts[i]
		if o.long == "" || !strings.HasPrefix(o.long, name) {
			continue
		}
		if o.long == name {
			match, candidates = o, nil
			break
		}
		candidates = append(candidates, o)
	}
	if match == nil {
		switch len(candidates) {
		case 0:
			fmt.Fprintf(stderr, "%s: unrecognized option '--%s'\n", argv0, text)
			return parsed{}, 0, false
		case 1:
			match = candidates[0]
		default:
			fmt.Fprintf(stderr, "%s: option '--%s' is ambiguous; possibilities:", argv0, name)
			for _, c := range candidates {
				fmt.Fprintf(stderr, " '--%s'", c.long)
			}
			fmt.Fprintln(stderr)
			return parsed{}, 0, false
		}
	}
	switch {
	case !match.arg && hasVal:
		fmt.Fprintf(stderr, "%s: option '--%s' doesn't allow an argument\n", argv0, match.long)
		return parsed{}, 0, false
	case match.arg && hasVal:
		return parsed{opt: match, val: val}, 0, true
	case match.arg && len(rest) > 0:
		return parsed{opt: match, val: rest[0]}, 1, true
	case match.arg:
		fmt.Fprintf(stderr, "%s: option '--%s' requires an argument\n", argv0, match.long)
		return parsed{}, 0, false
	}
	return parsed{opt: match}, 0, true
}
