package preflight

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
)

// Param is one name=value of a parameter string; HasValue is false for a
// bare name.
type Param struct {
	Name, Value string
	HasValue    bool
}

// ParseParams splits a parameter string as the kernel's next_arg does:
// arguments are separated by spaces; double quotes group spaces into a
// value and are removed ("name="a b"" and ""name=a b"" give a b). It
// stops at a bare "--", as parse_args does.
func ParseParams(s string) []Param {
	var out []Param
	for {
		s = strings.TrimLeft(s, " \t\n\v\f\r")
		if s == "" {
			return out
		}
		inQuote, end, eq := false, len(s), -1
		if s[0] == '"' {
			s, inQuote = s[1:], true
			end = len(s)
		}
		for i := 0; i < len(s); i++ {
			ch := s[i]
			if isSpace(ch) && !inQuote {
				end = i
				break
			}
			if eq < 0 && ch == '=' {
				eq = i
			}
			if ch == '"' {
				inQuote = !inQuote
			}
		}
		arg, rest := s[:end], s[end:]
		p := Param{Name: arg}
		if eq >= 0 && eq < end {
			p.Name, p.Value, p.HasValue = arg[:eq], arg[eq+1:], true
			if strings.HasPrefix(p.Value, `"`) {
				p.Value = p.Value[1:]
			}
		}
		if strings.HasSuffix(p.Value, `"`) {
			p.Value = p.Value[:len(p.Value)-1]
		} else if !p.HasValue && strings.HasSuffix(p.Name, `"`) {
			p.Name = p.Name[:len(p.Name)-1]
		}
		s = rest
		if !p.HasValue && p.Name == "--" {
			return out
		}
		out = append(out, p)
	}
}

func isSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// parameters replays parse_args over the module's parameters: a name the
// module does not declare is ignored with a warning; a value the
// parameter's type does not accept fails the load.
func (c *checker) parameters() Result {
	res := Result{Step: StepParameters}
	declared, _ := c.info.Params()
	types := map[string]string{}
	for _, p := range declared {
		types[strings.ReplaceAll(p.Name, "-", "_")] = p.Type
	}
	var notes, unknown []string
	for _, p := range ParseParams(c.params) {
		key := strings.ReplaceAll(p.Name, "-", "_")
		typ, ok := types[key]
		if !ok {
			if key == "dyndbg" || key == "async_probe" {
				continue // handled by the loader's own callback
			}
			res.Kernel = append(res.Kernel, fmt.Sprintf("%s: unknown parameter '%s' ignored", c.name, p.Name))
			notes = append(notes, fmt.Sprintf("%s has no parameter %s: the kernel ignores it", c.name, p.Name))
			continue
		}
		errno, known := checkValue(typ, p)
		switch {
		case !known:
			unknown = append(unknown, fmt.Sprintf("%s (type %q)", p.Name, typ))
		case errno != 0:
			res.Verdict, res.Errno = Failed, errno
			val := p.Value
			word := "invalid for"
			if errno == syscall.ENOSPC {
				word = "too large for"
			}
			res.Kernel = append(res.Kernel, fmt.Sprintf("%s: `%s' %s parameter `%s'", c.name, val, word, p.Name))
			res.Detail = fmt.Sprintf("%s is %s: %q does not parse", p.Name, typ, val)
			switch errno {
			case syscall.ERANGE:
				res.Detail = fmt.Sprintf("%s is %s: %q is out of range", p.Name, typ, val)
			case syscall.ENOSPC:
				res.Detail = fmt.Sprintf("%s is %s: %d bytes are too many", p.Name, typ, len(val))
			}
			return res // parse_args stops at the first error
		default:
			notes = append(notes, p.Name+"="+p.Value+" ("+typ+")")
		}
	}
	if len(unknown) > 0 {
		res.Detail = "cannot tell: " + strings.Join(unknown, ", ")
		return res
	}
	res.Verdict = Passed
	if len(notes) == 0 {
		notes = append(notes, "no parameters given")
	}
	res.Detail = strings.Join(notes, "; ")
	return res
}

// intTypes are the integer parmtypes: bits and signedness.
var intTypes = map[string]struct {
	bits   int
	signed bool
}{
	"byte": {8, false}, "short": {16, true}, "ushort": {16, false},
	"int": {32, true}, "uint": {32, false}, "hexint": {32, false},
	"long": {64, true}, "ulong": {64, false}, "ullong": {64, false},
}

// checkValue reports the errno the parameter's set function returns for
// p (0 when it accepts it), and false when that cannot be told.
func checkValue(typ string, p Param) (syscall.Errno, bool) {
	if elem, ok := strings.CutPrefix(typ, "array of "); ok {
		if !p.HasValue {
			return syscall.EINVAL, true
		}
		vals := strings.Split(p.Value, ",")
		for _, v := range vals {
			if e, known := checkValue(elem, Param{Name: p.Name, Value: v, HasValue: true}); !known || e != 0 {
				return e, known
			}
		}
		// The array's size is not in .modinfo: more than one element
		// may be too many.
		return 0, len(vals) <= 1
	}
	switch typ {
	case "bool", "invbool", "bint":
		if !p.HasValue {
			return 0, true
		}
		if _, ok := parseBool(p.Value); !ok {
			return syscall.EINVAL, true
		}
		return 0, true
	case "charp":
		if !p.HasValue {
			return syscall.EINVAL, true
		}
		if len(p.Value) > 1024 {
			return syscall.ENOSPC, true
		}
		return 0, true
	case "string":
		if !p.HasValue {
			return syscall.EINVAL, true
		}
		return 0, p.Value == "" // the buffer's size is not in .modinfo
	}
	it, ok := intTypes[typ]
	if !ok {
		return 0, false
	}
	if !p.HasValue {
		return syscall.EINVAL, true
	}
	return parseInt(p.Value, 0, it.bits, it.signed), true
}

// parseInt is kstrto{s,u}NN: an optional sign ('-' only when signed,
// '+' always), base prefix 0x / 0 when base is 0, digits, and at most one
// trailing newline; EINVAL for anything else, ERANGE when out of range.
func parseInt(s string, base, bits int, signed bool) syscall.Errno {
	s = strings.TrimSuffix(s, "\n")
	neg := false
	if signed && strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	if base == 0 {
		switch {
		case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X") && isHex(s[2]):
			base, s = 16, s[2:]
		case len(s) > 1 && s[0] == '0':
			base, s = 8, s[1:]
		default:
			base = 10
		}
	}
	if s == "" || s[0] == '+' || s[0] == '-' {
		return syscall.EINVAL
	}
	u, err := strconv.ParseUint(s, base, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return syscall.ERANGE
		}
		return syscall.EINVAL
	}
	if !signed {
		if bits < 64 && u > uint64(1)<<bits-1 {
			return syscall.ERANGE
		}
		return 0
	}
	limit := uint64(1) << (bits - 1) // magnitude of the minimum
	if neg {
		if u > limit {
			return syscall.ERANGE
		}
		return 0
	}
	if u > limit-1 || u > math.MaxInt64 {
		return syscall.ERANGE
	}
	return 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// parseBool is kstrtobool: y/Y/t/T/1 or "on" true, n/N/f/F/0 or "off"
// false, judged by the first one or two characters.
func parseBool(s string) (bool, bool) {
	if s == "" {
		return false, false
	}
	switch s[0] {
	case 'y', 'Y', 't', 'T', '1':
		return true, true
	case 'n', 'N', 'f', 'F', '0':
		return false, true
	case 'o', 'O':
		if len(s) > 1 {
			switch s[1] {
			case 'n', 'N':
				return true, true
			case 'f', 'F':
				return false, true
			}
		}
	}
	return false, false
}
