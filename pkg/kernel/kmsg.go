package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrKmsgRecord marks a /dev/kmsg record that does not parse.
var ErrKmsgRecord = errors.New("malformed kmsg record")

// Record is one kernel log record as /dev/kmsg hands it out
// ("PRIO,SEQ,USEC,FLAGS;MESSAGE\n" plus " KEY=VALUE" lines).
type Record struct {
	Priority int           // 0 (emerg) .. 7 (debug)
	Facility int           // 0 for the kernel
	Seq      uint64        // sequence number
	Time     time.Duration // since boot
	Message  string        // the text, escapes (\x0a) left as the kernel wrote them
}

// ParseRecord parses one record read from /dev/kmsg.
func ParseRecord(b []byte) (rec Record, err error) {
	defer func() {
		if r := recover(); r != nil {
			rec, err = Record{}, fmt.Errorf("%w: %v", ErrKmsgRecord, r)
		}
	}()
	head, rest, ok := bytes.Cut(b, []byte{';'})
	if !ok {
		return Record{}, fmt.Errorf("%w: no ';'", ErrKmsgRecord)
	}
	fields := bytes.Split(head, []byte{','})
	if len(fields) < 3 {
		return Record{}, fmt.Errorf("%w: %d header fields, want at least 3", ErrKmsgRecord, len(fields))
	}
	prefix, err := strconv.ParseUint(string(fields[0]), 10, 32)
	if err != nil {
		return Record{}, fmt.Errorf("%w: priority: %v", ErrKmsgRecord, err)
	}
	seq, err := strconv.ParseUint(string(fields[1]), 10, 64)
	if err != nil {
		return Record{}, fmt.Errorf("%w: sequence: %v", ErrKmsgRecord, err)
	}
	usec, err := strconv.ParseInt(string(fields[2]), 10, 64)
	if err != nil || usec < 0 {
		return Record{}, fmt.Errorf("%w: timestamp %q", ErrKmsgRecord, fields[2])
	}
	msg, _, _ := bytes.Cut(rest, []byte{'\n'})
	return Record{
		Priority: int(prefix & 7),
		Facility: int(prefix >> 3),
		Seq:      seq,
		Time:     time.Duration(usec) * time.Microsecond,
		Message:  string(msg),
	}, nil
}

// Kmsg reads the kernel log records that arrive after it was opened.
type Kmsg struct {
	fd  int
	buf []byte
}

// OpenKmsg opens /dev/kmsg positioned after the last record, so that Read
// returns only what the kernel logs from now on.
func OpenKmsg() (*Kmsg, error) {
	return openKmsg("/dev/kmsg")
}

func openKmsg(path string) (*Kmsg, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, wrap("open "+path, err)
	}
	if _, err := unix.Seek(fd, 0, unix.SEEK_END); err != nil {
		unix.Close(fd)
		return nil, wrap("seek "+path, err)
	}
	return &Kmsg{fd: fd, buf: make([]byte, 8192)}, nil
}

// Read returns the records logged since the last Read (or since
// OpenKmsg). It never blocks. Records the ring buffer overwrote before
// they were read are skipped; malformed ones are dropped.
func (k *Kmsg) Read() ([]Record, error) {
	var recs []Record
	for {
		n, err := unix.Read(k.fd, k.buf)
		switch {
		case errors.Is(err, unix.EAGAIN):
			return recs, nil
		case errors.Is(err, unix.EPIPE), errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return recs, wrap("read /dev/kmsg", err)
		case n == 0:
			return recs, nil
		}
		if rec, err := ParseRecord(k.buf[:n]); err == nil {
			recs = append(recs, rec)
		}
	}
}

// Close closes /dev/kmsg.
func (k *Kmsg) Close() error {
	return wrap("close /dev/kmsg", unix.Close(k.fd))
}
