package depmod

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Level is a message's priority, as syslog numbers them and kmod prints
// them ("depmod: WARNING: ...").
type Level int

// The levels kmod's depmod uses.
const (
	LevelFatal   Level = 2
	LevelError   Level = 3
	LevelWarning Level = 4
	LevelNotice  Level = 5
	LevelInfo    Level = 6
	LevelDebug   Level = 7
)

func (l Level) String() string {
	switch l {
	case LevelFatal:
		return "FATAL"
	case LevelError:
		return "ERROR"
	case LevelWarning:
		return "WARNING"
	case LevelNotice:
		return "NOTICE"
	case LevelInfo:
		return "INFO"
	case LevelDebug:
		return "DEBUG"
	}
	return fmt.Sprintf("LOG-%03d", int(l))
}

// logger passes the messages that the verbosity lets through to a
// callback: warnings and worse always, one more level per -v.
type logger struct {
	fn      func(Level, string)
	verbose int
}

func (l *logger) printf(lv Level, format string, a ...any) {
	if l.fn == nil || int(lv) > int(LevelWarning)+l.verbose {
		return
	}
	l.fn(lv, fmt.Sprintf(format, a...))
}

func (l *logger) fatalf(format string, a ...any) { l.printf(LevelFatal, format, a...) }
func (l *logger) errorf(format string, a ...any) { l.printf(LevelError, format, a...) }
func (l *logger) warnf(format string, a ...any)  { l.printf(LevelWarning, format, a...) }
func (l *logger) noticef(format string, a ...any) {
	l.printf(LevelNotice, format, a...)
}
func (l *logger) infof(format string, a ...any) { l.printf(LevelInfo, format, a...) }

// errText is how kmod prints an error: strerror of its errno (%m), or the
// error's own text when it has none.
func errText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return strerror(errno)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return errText(pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return errText(le.Err)
	}
	return err.Error()
}

// strerror is glibc's text for an errno: Go's, with the first letter
// capitalised, as glibc writes them.
func strerror(e syscall.Errno) string {
	s := e.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
