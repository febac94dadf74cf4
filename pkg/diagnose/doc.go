// Package diagnose explains why a module did not load or unload.
//
// The kernel says why it refused a module, but in its log, not in the
// errno: "version magic '6.1.0-56-amd64 SMP preempt mod_unload modversions'
// should be '6.12.117+deb12-amd64 ...'", "Unknown symbol kaidock_shared
// (err -2)", "Loading of unsigned module is rejected". A Load gathers the
// errno, the kernel log records logged while the load ran (pkg/kernel's
// Kmsg), and what is known about the file and the system; Relevant picks
// the records that concern the load and Hint turns them into one sentence
// that says what to do. Unload does the same for a refused removal.
//
// Everything here is pure: the caller supplies the records and lookups,
// so the rules are tested as a table.
package diagnose
