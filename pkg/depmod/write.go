package depmod

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Write puts the files in res.OutDir. Each is written to a temporary
// file in that directory first; only when every one is complete are they
// renamed into place, so a failure leaves the previous indexes whole and
// no temporary file behind.
func (res *Result) Write() error {
	dir := res.OutDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w: %w", dir, ErrWrite, err)
	}
	now := time.Now()
	suffix := "." + strconv.Itoa(os.Getpid()) + "." + strconv.Itoa(now.Nanosecond()/1000) + "." + strconv.FormatInt(now.Unix(), 10)
	var temps []string
	cleanup := func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}
	for _, f := range res.Files {
		tmp := filepath.Join(dir, f.Name+suffix)
		if err := writeFile(tmp, f.Data); err != nil {
			os.Remove(tmp)
			cleanup()
			return fmt.Errorf("write %s: %w: %w", f.Name, ErrWrite, err)
		}
		temps = append(temps, tmp)
	}
	for i, f := range res.Files {
		if err := os.Rename(temps[i], filepath.Join(dir, f.Name)); err != nil {
			cleanup()
			return fmt.Errorf("rename %s: %w: %w", f.Name, ErrWrite, err)
		}
	}
	return nil
}

// writeFile is writeNew; tests replace it to make a write fail.
var writeFile = writeNew

func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
