// Package link links an x86-64 kernel module the way the kernel does when
// it loads one, so that the result can be shown and checked.
//
// A .ko is a relocatable object: calls and loads in it hold zeros, and
// SHT_RELA sections say what goes there. Link takes a module file, the
// address each of its allocated sections got (from
// /sys/module/NAME/sections of a loaded module, or from Layout for an
// offline view) and a symbol table (package ksym), and does what the
// kernel's simplify_symbols and apply_relocate_add (arch/x86/kernel/module.c)
// do: undefined symbols are resolved against the kernel's exports first,
// then those of loaded modules, with the GPL-only rule for modules whose
// license is not GPL-compatible; section-relative symbols get their
// section's address; every relocation section whose target is allocated
// is applied with the types the kernel accepts (R_X86_64_NONE, 64, 32,
// 32S, PC32, PLT32, PC64), their overflow checks, the check that the
// target is zero before it is written, and the refusal of other types.
// What the kernel refuses is an error carrying the kernel's own message.
//
// After linking the kernel rewrites some of the code again: ftrace call
// sites (__mcount_loc), return thunks (.return_sites), retpolines
// (.retpoline_sites), call depth accounting (.call_sites), IBT sealing
// (.ibt_endbr_seal), alternatives (.altinstructions), paravirt sites
// (.parainstructions, Linux 6.1), static calls and jump labels, and the
// tables it sorts or owns (__ex_table, __jump_table, ORC, struct module).
// Image.Patches lists those sites with what they become where that can be
// predicted from a description of the CPU's mitigations (CPU).
package link
