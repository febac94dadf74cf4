package tests

// The kernel differential of gokmodsign verify: a corpus of crafted
// signatures over kaidock (pkg/modsig/modsigtest), each checked by
// `gokmodsign verify` with the trusted test certificates and loaded with
// finit_module into the secure flavour's kernel, which enforces
// signatures and trusts those certificates. verify's verdict must be the
// kernel's, and where verify names an errno class, the kernel's errno.

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
	"github.com/gokmod/gokmod/pkg/modsig/modsigtest"
)

// corpusKey reads one of GOKMOD_KEYS' keys and its certificate.
func (b *bed) corpusKey(t *testing.T, name string) modsigtest.Key {
	t.Helper()
	priv, der := b.key(name)
	k, err := cms.ParsePrivateKey(mustRead(t, priv))
	if err != nil {
		t.Fatalf("%s: %v", priv, err)
	}
	c, err := cms.ParseCertificate(mustRead(t, der))
	if err != nil {
		t.Fatalf("%s: %v", der, err)
	}
	return modsigtest.Key{Key: k, Cert: c}
}

// errnoClass names what finit_module answered as a modsig.Class.
func errnoClass(err error) modsig.Class {
	switch {
	case err == nil:
		return modsig.Accepted
	case errors.Is(err, syscall.EBADMSG):
		return modsig.EBADMSG
	case errors.Is(err, syscall.EINVAL):
		return modsig.EINVAL
	case errors.Is(err, syscall.EKEYREJECTED):
		return modsig.EKEYREJECTED
	case errors.Is(err, syscall.ENOKEY):
		return modsig.ENOKEY
	case errors.Is(err, syscall.ENOPKG):
		return modsig.ENOPKG
	case errors.Is(err, syscall.ENODATA):
		return modsig.ENODATA
	}
	return modsig.Class(-1)
}

// verifyClass reads the errno class verify's line gives under
// enforcement: "(kernel: X)" or "(kernel: X, Y under enforcement)".
var verifyClass = regexp.MustCompile(`\(kernel: ([A-Z]+)(?:, ([A-Z]+) under enforcement)?\)`)

func TestVerifyAgreesWithKernel(t *testing.T) {
	b := secureBed(t)
	b.cleanup("kaidock")
	if b.bin == "" {
		t.Skip("GOKMOD_BIN is not set")
	}
	keys := modsigtest.Keys{
		RSA2048:   b.corpusKey(t, "rsa2048"),
		RSA4096:   b.corpusKey(t, "rsa4096"),
		ECDSA256:  b.corpusKey(t, "ecdsa256"),
		Untrusted: b.corpusKey(t, "untrusted"),
	}
	var certArgs []string
	for _, k := range []string{"rsa2048", "rsa4096", "ecdsa256"} {
		_, der := b.key(k)
		certArgs = append(certArgs, "--cert", der)
	}
	raw := b.rawModule("kaidock")
	corpus := modsigtest.Corpus(keys)
	if len(corpus) < 40 {
		t.Fatalf("corpus of %d signatures, want at least 40", len(corpus))
	}
	agree, asExpected := 0, 0
	for i, c := range corpus {
		image, err := c.Sign(raw)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		path := b.write(fmt.Sprintf("crafted-%02d.ko", i), image)

		r := b.run(filepath.Join(b.bin, "gokmodsign"), append(append([]string{"verify"}, certArgs...), path)...)
		line := strings.TrimSpace(r.stdout)
		ours := modsig.Class(-1)
		switch m := verifyClass.FindStringSubmatch(line); {
		case r.code == 0 && strings.HasPrefix(line, path+": ok"):
			ours = modsig.Accepted
		case m != nil && m[2] != "":
			ours = className(m[2])
		case m != nil:
			ours = className(m[1])
		}

		kerr := finit(t, path)
		theirs := errnoClass(kerr)
		if kerr == nil {
			unload(t, "kaidock")
		}
		if theirs == c.Want {
			asExpected++
		}
		switch {
		case ours == theirs:
			agree++
		case (ours == modsig.Accepted) != (theirs == modsig.Accepted):
			t.Errorf("%s: verify says %q, the kernel answers %v", c.Name, line, kerr)
		default:
			t.Errorf("%s: verify refuses with %v (%q), the kernel with %v", c.Name, ours, line, kerr)
		}
	}
	t.Logf("verify and the kernel agree on %d of %d crafted signatures (the kernel answered as VM-NOTES.md expects on %d)", agree, len(corpus), asExpected)
	fmt.Printf("verify-kernel differential: %d/%d agree\n", agree, len(corpus))
}

func className(s string) modsig.Class {
	for c := modsig.Accepted; c <= modsig.EKEYREJECTED; c++ {
		if c.String() == s {
			return c
		}
	}
	return modsig.Class(-1)
}
