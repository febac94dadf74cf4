package tool

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ImageLimitFlag is the option that raises the cap on a module image read
// into memory (decompressed, or plain and loaded whole).
const ImageLimitFlag = "image-limit"

// ImageLimitUsage describes ImageLimitFlag.
const ImageLimitUsage = "largest module image to read into memory, decompressed (bytes, or with K, M, G); default 128M"

var errSize = errors.New("want a positive size such as 134217728, 512M or 2G")

// ParseSize parses a size in bytes with an optional binary suffix: K, M,
// G (and KiB, MiB, GiB).
func ParseSize(s string) (int64, error) {
	num := strings.TrimSuffix(strings.TrimSuffix(strings.ToUpper(s), "IB"), "B")
	shift := 0
	switch {
	case strings.HasSuffix(num, "K"):
		shift = 10
	case strings.HasSuffix(num, "M"):
		shift = 20
	case strings.HasSuffix(num, "G"):
		shift = 30
	}
	if shift > 0 {
		num = num[:len(num)-1]
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("size %q: %w", s, errSize)
	}
	return n << shift, nil
}
