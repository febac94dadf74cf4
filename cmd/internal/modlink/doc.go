// Package modlink is gomodlink (and "gokmod link"): it shows what the
// kernel's module linker does to a module. For each function of a .ko, or
// the ones named, it prints the code as in the file, each relocation with
// its type, symbol and addend, next to the same code linked (addresses
// resolved and named), and marks the sites the kernel rewrites after
// linking (ftrace call sites, return thunks, retpolines, alternatives...)
// with what they become. --json prints every relocation site instead.
//
// On a live system the module must be loaded: the section addresses come
// from /sys/module/NAME/sections and the symbols from /proc/kallsyms (both
// need root). Offline, with --system-map, sections are laid out from
// --base (or placed with --section) and symbols come from a System.map or
// a saved kallsyms, plus the exports of modules given with --with.
// The linking itself is package github.com/gokmod/gokmod/pkg/link.
package modlink
