package insmod

import (
	"fmt"
	"io"

	"github.com/gokmod/gokmod/pkg/kernel"
)

// Explain prints what goinsmod prints after a failed load of filename:
// the kernel log records of recs that concern it and a "hint:" line.
// gomodprobe uses it for the modules it loads.
func Explain(w io.Writer, filename string, err error, recs []kernel.Record) {
	d := diagnosis(filename, err, recs)
	for _, r := range d.Relevant() {
		fmt.Fprintf(w, "[%5d.%06d] %s\n", r.Time.Microseconds()/1e6, r.Time.Microseconds()%1e6, r.Message)
	}
	if h := d.Hint(); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}
