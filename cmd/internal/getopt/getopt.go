package getopt

import (
	"fmt"
	"io"
	"strings"
)

// Option is one command-line option as getopt_long(3) describes it.
type Option struct {
	Long  string // "" when there is no long form
	Short byte   // 0 when there is no short form
	Arg   bool   // takes a required argument
	// ID is what getopt_long returns for the option; long options
	// sharing one are synonyms, and an abbreviation matching only
	// synonyms is not ambiguous. 0 means Short, or the option's own
	// place when it has none.
	ID int
}

// Parsed is one option found on the command line.
type Parsed struct {
	Opt  *Option
	Val  string // its argument
	Long bool   // given in its long form
}

// Parse parses args (without argv[0]) as glibc's getopt_long does for
// kmod: options and operands may be mixed (operands are collected in
// order), "--" ends the options, long options may be abbreviated to a
// unique prefix. A bad option ends the parse with errMsg set to glibc's
// message, prefixed by argv0 as given; the options before it are still
// returned, for the caller to act on first, as getopt_long hands them to
// it one by one.
func Parse(argv0 string, args []string, opts []Option) (found []Parsed, operands []string, errMsg string) {
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
			p.Long = true
			found = append(found, p)
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o := findShort(opts, a[j])
				if o == nil {
					fmt.Fprintf(&stderr, "%s: invalid option -- '%c'\n", argv0, a[j])
					return found, operands, stderr.String()
				}
				if !o.Arg {
					found = append(found, Parsed{Opt: o})
					continue
				}
				if j+1 < len(a) {
					found = append(found, Parsed{Opt: o, Val: a[j+1:]})
				} else if i+1 < len(args) {
					i++
					found = append(found, Parsed{Opt: o, Val: args[i]})
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

func findShort(opts []Option, c byte) *Option {
	for i := range opts {
		if opts[i].Short == c && c != 0 {
			return &opts[i]
		}
	}
	return nil
}

// id is what getopt_long returns for o.
func id(opts []Option, o *Option) int {
	if o.ID != 0 {
		return o.ID
	}
	if o.Short != 0 {
		return int(o.Short)
	}
	for i := range opts {
		if &opts[i] == o {
			return -1 - i
		}
	}
	return 0
}

func parseLong(argv0, text string, rest []string, opts []Option, stderr io.Writer) (Parsed, int, bool) {
	name, val, hasVal := strings.Cut(text, "=")
	var match *Option
	var candidates []*Option
	ambiguous := false
	for i := range opts {
		o := &opts[i]
		if o.Long == "" || !strings.HasPrefix(o.Long, name) {
			continue
		}
		if o.Long == name {
			match, candidates, ambiguous = o, nil, false
			break
		}
		// glibc: a candidate that returns what the first one returns
		// is a synonym, not a second possibility.
		if len(candidates) > 0 && o.Arg == candidates[0].Arg && id(opts, o) == id(opts, candidates[0]) {
			continue
		}
		if len(candidates) > 0 {
			ambiguous = true
		}
		candidates = append(candidates, o)
	}
	if match == nil {
		switch {
		case len(candidates) == 0:
			fmt.Fprintf(stderr, "%s: unrecognized option '--%s'\n", argv0, text)
			return Parsed{}, 0, false
		case !ambiguous:
			match = candidates[0]
		default:
			fmt.Fprintf(stderr, "%s: option '--%s' is ambiguous; possibilities:", argv0, text)
			for _, c := range candidates {
				fmt.Fprintf(stderr, " '--%s'", c.Long)
			}
			fmt.Fprintln(stderr)
			return Parsed{}, 0, false
		}
	}
	switch {
	case !match.Arg && hasVal:
		fmt.Fprintf(stderr, "%s: option '--%s' doesn't allow an argument\n", argv0, match.Long)
		return Parsed{}, 0, false
	case match.Arg && hasVal:
		return Parsed{Opt: match, Val: val}, 0, true
	case match.Arg && len(rest) > 0:
		return Parsed{Opt: match, Val: rest[0]}, 1, true
	case match.Arg:
		fmt.Fprintf(stderr, "%s: option '--%s' requires an argument\n", argv0, match.Long)
		return Parsed{}, 0, false
	}
	return Parsed{Opt: match}, 0, true
}
