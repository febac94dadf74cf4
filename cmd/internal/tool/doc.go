// Package tool holds what every gokmod command shares: the environment it
// runs in (arguments and standard streams, so tests run commands in-process),
// its name as kmod prints it in messages, kmod's message lines, and the Exit
// error that carries a status. Package cliapp runs the commands built on
// urfave/cli.
//
// kmod prefixes every message with the name the program was called by
// ("modinfo: ERROR: Module vfat not found."). The gokmod commands do the
// same, so a gokmod binary installed or linked as "modinfo" prints exactly
// what kmod's modinfo prints.
package tool
