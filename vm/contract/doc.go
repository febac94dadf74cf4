// Package contract is what the test bed's host tool (gokmod-vm) and its
// guest /init (vm/guest) agree on: where things are inside the guest, the
// GOKMOD_* environment the guest command gets, the serial ports, and the
// marker line that carries the command's exit status back to the host.
//
// Both sides import it, so neither can drift from the other; the tests in
// tests/ read the same environment names.
package contract
