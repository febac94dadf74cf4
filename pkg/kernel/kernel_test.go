package kernel

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestErrorUnwrap(t *testing.T) {
	tests := []struct {
		errno    unix.Errno
		sentinel error
		msg      string
	}{
		{unix.EEXIST, ErrExist, "finit_module: File exists"},
		{unix.ENOEXEC, ErrNoExec, "finit_module: Exec format error"},
		{unix.EPERM, ErrPerm, "finit_module: Operation not permitted"},
		{unix.EKEYREJECTED, ErrKeyRejected, "finit_module: Key was rejected by service"},
		{unix.ENOSYS, ErrNotSupported, "finit_module: Function not implemented"},
		{unix.EWOULDBLOCK, ErrWouldBlock, "finit_module: Resource temporarily unavailable"},
		{unix.ESRCH, ErrSymbolVer, "finit_module: No such process"},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			err := wrap("finit_module", tt.errno)
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false, want true", err, tt.sentinel)
			}
			if !errors.Is(err, tt.errno) {
				t.Errorf("errors.Is(%v, errno %d) = false, want true", err, int(tt.errno))
			}
			if errors.Is(err, ErrBusy) {
				t.Errorf("errors.Is(%v, ErrBusy) = true, want false", err)
			}
			if got := err.Error(); got != tt.msg {
				t.Errorf("Error() = %q, want %q", got, tt.msg)
			}
			if got := Errno(err); got != tt.errno {
				t.Errorf("Errno(%v) = %d, want %d", err, int(got), int(tt.errno))
			}
		})
	}
	if err := wrap("x", nil); err != nil {
		t.Errorf("wrap(nil) = %v, want nil", err)
	}
}

func TestMessage(t *testing.T) {
	if got, want := Message(unix.ENOEXEC), "Exec format error"; got != want {
		t.Errorf("Message(ENOEXEC) = %q, want %q", got, want)
	}
	if got, want := Message(unix.ECHILD), "No child processes"; got != want {
		t.Errorf("Message(ECHILD) = %q, want %q", got, want)
	}
}

func TestParseRecord(t *testing.T) {
	tests := []struct {
		in      string
		want    Record
		wantErr bool
	}{
		{
			in:   "6,1234,5678901,-;kaidock: jiffies 4294937296\n",
			want: Record{Priority: 6, Seq: 1234, Time: 5678901 * time.Microsecond, Message: "kaidock: jiffies 4294937296"},
		},
		{
			in:   "3,77,100,-,caller=T1;kaidock_badmagic: version magic '6.1.0 SMP' should be '6.12.0 SMP'\n SUBSYSTEM=module\n",
			want: Record{Priority: 3, Seq: 77, Time: 100 * time.Microsecond, Message: "kaidock_badmagic: version magic '6.1.0 SMP' should be '6.12.0 SMP'"},
		},
		{
			in:   "30,1,0,c;systemd message",
			want: Record{Priority: 6, Facility: 3, Seq: 1, Message: "systemd message"},
		},
		{in: "no separator", wantErr: true},
		{in: "6,1;short header", wantErr: true},
		{in: "x,1,2,-;bad priority", wantErr: true},
		{in: "6,1,-5,-;negative time", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRecord([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRecord(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, ErrKmsgRecord) {
					t.Errorf("ParseRecord(%q) = %v, want ErrKmsgRecord", tt.in, err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRecord(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte("6,1234,5678901,-;kaidock: jiffies 4294937296\n"))
	f.Add([]byte("3,77,100,-,caller=T1;x\n K=V\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := ParseRecord(b)
		if err == nil && (rec.Priority < 0 || rec.Priority > 7 || rec.Time < 0) {
			t.Errorf("ParseRecord(%q) = %+v: out of range", b, rec)
		}
	})
}
