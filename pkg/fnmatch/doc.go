// Package fnmatch matches shell patterns as fnmatch(3) with no flags
// does, the way kmod matches module aliases (modules.alias patterns and
// the wildcard keys of modules.alias.bin) against a device's modalias.
//
// It is a package of its own so that both the text indexes (package
// moddb) and the binary ones (package modindex) use the one matcher.
package fnmatch
