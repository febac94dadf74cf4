package moddb

import "github.com/gokmod/gokmod/pkg/fnmatch"

// Match reports whether name matches the shell pattern pattern as
// fnmatch(3) with no flags does; see package fnmatch.
func Match(pattern, name string) bool { return fnmatch.Match(pattern, name) }
