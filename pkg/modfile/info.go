package modfile

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// Field is one key=value string of .modinfo. A string without '=' is a key
// with an empty value, as kmod reads it.
type Field struct {
	Key   string
	Value string
}

// Info is the contents of .modinfo in section order, repeated keys kept.
type Info []Field

// Info returns the .modinfo strings. A module without .modinfo is an error
// wrapping ErrNotModule.
func (f *File) Info() (Info, error) {
	if !f.infoOK {
		b, err := f.sectionBytes(".modinfo")
		if errors.Is(err, ErrNoSection) {
			err = ErrNotModule
		}
		if err != nil {
			f.infoErr = fmt.Errorf("read .modinfo: %w", err)
		} else {
			f.info = ParseInfo(b)
		}
		f.infoOK = true
	}
	return f.info, f.infoErr
}

// ParseInfo splits the contents of a .modinfo section (or one module's
// strings of modules.builtin.modinfo) the way kmod does: leading NUL
// padding is skipped, runs of NULs separate strings, empty strings are
// dropped, and the last string need not be NUL-terminated. A section of a
// single non-NUL byte holds nothing.
func ParseInfo(b []byte) Info {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) <= 1 {
		return nil
	}
	var info Info
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		s := b
		if i >= 0 {
			s, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(s) == 0 {
			continue
		}
		info = append(info, splitField(s))
	}
	return info
}

func splitField(s []byte) Field {
	if k, v, ok := bytes.Cut(s, []byte("=")); ok {
		return Field{Key: string(k), Value: string(v)}
	}
	return Field{Key: string(s)}
}

// Values returns every value of key, in section order.
func (in Info) Values(key string) []string {
	var v []string
	for _, f := range in {
		if f.Key == key {
			v = append(v, f.Value)
		}
	}
	return v
}

// Value returns the first value of key, as the kernel's get_modinfo does.
func (in Info) Value(key string) (string, bool) {
	for _, f := range in {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Vermagic is the first vermagic= value.
func (in Info) Vermagic() string { v, _ := in.Value("vermagic"); return v }

// License is the first license= value.
func (in Info) License() string { v, _ := in.Value("license"); return v }

// Aliases are the alias= values.
func (in Info) Aliases() []string { return in.Values("alias") }

// Depends are the module names listed by depends=, in order.
func (in Info) Depends() []string {
	v, _ := in.Value("depends")
	var deps []string
	for _, d := range strings.Split(v, ",") {
		if d != "" {
			deps = append(deps, d)
		}
	}
	return deps
}

// Param is a module parameter, from parm= (description) and parmtype=
// (type) strings of the form "name:text".
type Param struct {
	Name        string
	Description string
	Type        string
	HasDesc     bool // a parm= string was seen
	HasType     bool // a parmtype= string was seen
}

// Params merges the parm= and parmtype= strings by parameter name in
// kmod's order: most recently first seen parameter first (kmod keeps them
// in a list it prepends to). When a name repeats, its last description and
// last type win. Strings without ':' are returned in invalid, for the
// caller to report as kmod does.
func (in Info) Params() (params []Param, invalid []Field) {
	index := map[string]int{}
	for _, f := range in {
		if f.Key != "parm" && f.Key != "parmtype" {
			continue
		}
		name, text, ok := strings.Cut(f.Value, ":")
		if !ok {
			invalid = append(invalid, f)
			continue
		}
		i, seen := index[name]
		if !seen {
			i = len(params)
			index[name] = i
			params = append(params, Param{Name: name})
		}
		if f.Key == "parm" {
			params[i].Description, params[i].HasDesc = text, true
		} else {
			params[i].Type, params[i].HasType = text, true
		}
	}
	for i, j := 0, len(params)-1; i < j; i, j = i+1, j-1 {
		params[i], params[j] = params[j], params[i]
	}
	return params, invalid
}

// Name is the module's name: the name= string of .modinfo, else the name
// field of struct module in .gnu.linkonce.this_module.
func (f *File) Name() (string, error) {
	info, err := f.Info()
	if err != nil {
		return "", err
	}
	if v, ok := info.Value("name"); ok {
		return v, nil
	}
	return f.thisModuleName()
}

// thisModuleName reads struct module's name: after an int state and a
// list_head (two pointers), MODULE_NAME_LEN = 64 - sizeof(long) bytes.
func (f *File) thisModuleName() (string, error) {
	b, err := f.sectionBytes(".gnu.linkonce.this_module")
	if err != nil {
		return "", fmt.Errorf("read module name: %w", err)
	}
	off, n := 24, 56
	if f.class == Class32 {
		off, n = 12, 60
	}
	if len(b) < off+1 {
		return "", fmt.Errorf("read module name: %d-byte .gnu.linkonce.this_module: %w", len(b), ErrBadSection)
	}
	b = b[off:]
	if len(b) > n {
		b = b[:n]
	}
	return cstring(b), nil
}
