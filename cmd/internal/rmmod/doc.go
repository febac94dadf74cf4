// Package rmmod is gormmod: kmod's rmmod over pkg/loader. Flags, messages
// and exit codes are kmod 30's ("rmmod: ERROR: Module kaidock_export is in
// use by: kaidock_user", status 1); a "hint:" line after an error says
// what to do.
package rmmod
