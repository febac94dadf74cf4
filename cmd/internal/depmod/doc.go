// Package depmod is the depmod command: it writes the module indexes of a
// kernel's module directory with kmod 30's options (-a -A -b -C -e -E -F
// -n -P -v -w -V -h, module paths as arguments), kmod 31's -o/--outdir,
// and gokmod's --summary (the -e warnings counted per module), --json
// (with -n, the modules as one JSON document) and --jobs (how many
// goroutines decode modules). Messages, output and exit statuses are
// kmod's; the work is package pkg/depmod's.
package depmod
