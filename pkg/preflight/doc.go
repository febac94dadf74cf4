// Package preflight says whether a module would load, and why not, without
// asking the kernel.
//
// Check replays the decisions of the kernel's module loader
// (kernel/module/main.c load_module and the code it calls) in userspace,
// in the kernel's order, for one module file against a Target: the
// running kernel, read through an fs.FS rooted at "/" (Live), or a
// kernel's build directory (Offline). Each step is a Result that passed,
// failed (with the message the kernel logs and the errno the loader
// returns) or is unknown (with the reason: kallsyms hidden, a signer the
// keyrings list by name only, a symbol CRC nobody can tell).
//
// The steps, in the kernel's order: decompress (the file's format against
// /sys/module/compression, and the call pkg/loader would make), signature
// (sig_enforce, lockdown, the signer against the certificates the kernel
// trusts), elf (the checks that give ENOEXEC), modversions (the CRC of
// module_layout), vermagic, loaded (EEXIST), symbols (every undefined
// symbol against the kernel's and the loaded modules' exports: missing,
// GPL-only for a non-GPL module, a CRC that disagrees, a namespace not
// imported), parameters (unknown names, values that do not parse for the
// declared parmtype) and sysfs (a built-in module of the same name).
//
// The verdict of a Report is the kernel's: the first step that fails
// decides the errno; a load passes only if every step passed, and is
// unknown otherwise. A step never guesses: what it cannot know it reports
// as unknown, so a verdict is never wrong, only sometimes absent.
//
// The parsers of /proc/kallsyms, Module.symvers and /proc/keys take an
// io.Reader, guard against panics and have Fuzz targets.
package preflight
