// Package modprobe loads and unloads kernel modules by name or alias, as
// kmod's modprobe does: it finds a module the way libkmod looks it up
// (configuration aliases, modules.dep names, symbol: aliases, install
// commands, modules.alias patterns, built-in modules and their aliases),
// reads the modprobe.d configuration (aliases, options, install and remove
// commands, blacklists, soft dependencies) and the module options on the
// kernel command line, and orders a module after everything it needs.
//
// Work is plan-first: Prober.Insert and Prober.Remove return a Plan, a
// list of Steps (load this file with these parameters, built-in, already
// loaded, run this command, blacklisted) that a dry run prints and a test
// reads; Prober.Execute carries it out through package loader. Batch
// loads many requests in parallel along the dependency graph and never
// loads one module twice; Closure gives an image builder the files and
// firmware that a set of modules needs from a tree that need not be the
// running one.
//
// A Prober is safe for use by several goroutines.
package modprobe
