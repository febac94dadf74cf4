// Package logging sends a command's messages to syslog, for the -s
// (--syslog) option of goinsmod, gormmod and golsmod, as kmod's tools do:
// the program name becomes the syslog tag and the rest of the line,
// "ERROR: ..." included, the message.
package logging
