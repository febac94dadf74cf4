// Package check is `gokmod check` and `goinsmod --check`: whether module
// files would load, step by step, over package preflight. It holds the
// flags, the output (one line per step, or JSON) and the exit status: 0
// when every file would load, 1 when one would fail, 2 when one cannot be
// told.
package check
