// Package logging sends a command's messages to syslog, for gormmod's -s
// (--syslog), as kmod's rmmod does: the program name becomes the syslog
// tag and the rest of the line, "ERROR: ..." included, the message.
package logging
