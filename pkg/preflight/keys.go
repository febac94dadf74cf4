package preflight

import (
	"bufio"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// ParseProcKeys returns the descriptions of the asymmetric keys that
// /proc/keys lists: "ID FLAGS USAGE TIMEOUT PERM UID GID TYPE DESCRIPTION".
// The type column is cut to 9 characters ("asymmetri").
func ParseProcKeys(r io.Reader) (descs []string, err error) {
	defer func() {
		if p := recover(); p != nil {
			descs, err = nil, fmt.Errorf("%w: /proc/keys: %v", ErrSyntax, p)
		}
	}()
	descs = []string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 9 {
			return nil, fmt.Errorf("%w: /proc/keys line %d: %d fields", ErrSyntax, n, len(f))
		}
		if !strings.HasPrefix("asymmetric", f[7]) || len(f[7]) < 5 {
			continue
		}
		descs = append(descs, strings.Join(f[8:], " "))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /proc/keys: %w", err)
	}
	return descs, nil
}

// KeyDescription is how the kernel names the key of an X.509 certificate
// in its keyrings: the subject ("O: CN" when the CN does not start with
// the organisation, else the CN, the organisation or the e-mail address),
// ": ", and the subject key identifier (else the serial number) in hex.
func KeyDescription(c *x509.Certificate) string {
	cn := c.Subject.CommonName
	var o string
	if len(c.Subject.Organization) > 0 {
		o = c.Subject.Organization[0]
	}
	name := cn
	switch {
	case cn != "" && o != "" && !strings.HasPrefix(cn, o):
		name = o + ": " + cn
	case cn == "" && o != "":
		name = o
	case cn == "" && len(c.EmailAddresses) > 0:
		name = c.EmailAddresses[0]
	}
	id := c.SubjectKeyId
	if len(id) == 0 {
		id = c.SerialNumber.Bytes()
	}
	return name + ": " + hex.EncodeToString(id)
}

// listed reports whether every key description is one of the certs'.
func listed(descs []string, certs []*x509.Certificate) bool {
	for _, d := range descs {
		found := false
		for _, c := range certs {
			if strings.HasPrefix(d, KeyDescription(c)) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
