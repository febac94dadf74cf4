// Command guest is the /init of the test bed's initramfs, a static binary
// that runs as PID 1 inside the QEMU guest.
//
// It mounts /proc, /sys, /dev (devtmpfs), /tmp and /run (tmpfs), reads the command
// to run from /gokmod/run/argv, its environment from /gokmod/run/env (both
// NUL-separated) and its working directory from /gokmod/run/cwd, and runs it
// with stdin on /dev/null and stdout and stderr on the second serial port,
// /dev/ttyS1, which it switches to raw mode. When the command ends it prints
// a final line "@@gokmod-exit N@@" carrying the exit status N (128+signal
// when the command was killed, 127 when it could not start); "@@gokmod-exit
// N +nl@@" says that the newline before the marker was added by init to end
// the command's last line, so the host can drop it and pass the output on
// byte for byte. While the command runs it writes a heartbeat line to the
// first serial port every few seconds, so the host can tell a stalled guest
// from a quiet command. If N is not 0 it dumps the kernel log to the first serial
// port. Then it syncs and reboots; QEMU runs with -no-reboot, so that ends the
// VM.
package main
