package logging

import (
	"bytes"
	"io"
	"log/syslog"
	"strings"

	"github.com/gokmod/gokmod/cmd/internal/tool"
)

// Syslog returns a copy of env whose standard error goes to syslog
// (facility daemon) under env's name. When there is no syslog to talk to,
// env is returned unchanged, so messages are never lost.
func Syslog(env *tool.Env) *tool.Env {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_ERR, env.Name())
	if err != nil {
		return env
	}
	e := *env
	e.Stderr = &lineWriter{prefix: env.Name() + ": ", w: w}
	return &e
}

// lineWriter writes each complete line to syslog, without the program's
// name, which syslog adds as the tag.
type lineWriter struct {
	prefix string
	w      *syslog.Writer
	buf    bytes.Buffer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf.Write(p)
	for {
		line, err := l.buf.ReadString('\n')
		if err == io.EOF {
			l.buf.WriteString(line) // incomplete: keep for the next Write
			return len(p), nil
		}
		msg := strings.TrimPrefix(strings.TrimSuffix(line, "\n"), l.prefix)
		if strings.HasPrefix(msg, "ERROR: ") {
			l.w.Err(msg)
		} else if strings.HasPrefix(msg, "WARNING: ") {
			l.w.Warning(msg)
		} else {
			l.w.Info(msg)
		}
	}
}
