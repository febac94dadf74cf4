package modsig

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCheckModule: the kernel's parsing rules never panic, every refusal
// names a rule and an errno class, and a message that passes covers a
// prefix of the image and has a signer.
func FuzzCheckModule(f *testing.F) {
	for _, name := range []string{"sha256.signed", "skid.signed", "sha3-256.signed", "md5.signed", "plain.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, image []byte) {
		msg, err := CheckModule(image, Newest)
		if err != nil {
			var re *RuleError
			if !errors.As(err, &re) || re.Rule == "" || re.Class <= Accepted || re.Class > EKEYREJECTED {
				t.Fatalf("CheckModule error %v names no rule and class", err)
			}
			return
		}
		if len(msg.Signers) == 0 || !bytes.HasPrefix(image, msg.Content) || len(msg.Content) >= len(image) {
			t.Fatalf("CheckModule passed a message with %d signers over %d of %d bytes", len(msg.Signers), len(msg.Content), len(image))
		}
	})
}

func TestCheckModuleRules(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "sha256.signed"))
	if err != nil {
		t.Fatal(err)
	}
	trailer := len(good) - len(Magic) - trailerLen
	set := func(at int, v byte) []byte {
		b := bytes.Clone(good)
		b[at] = v
		return b
	}
	tests := []struct {
		name  string
		image []byte
		rule  string
		class Class
	}{
		{"good", good, "", Accepted},
		{"unsigned", []byte("\x7fELF"), RuleUnsigned, ENODATA},
		{"marker only", []byte("xx" + Magic), RuleTrailerLength, EBADMSG},
		{"algo", set(trailer, 1), RuleParams, EBADMSG},
		{"pad", set(trailer+7, 1), RuleParams, EBADMSG},
		{"id type", set(trailer+2, 1), RuleIDType, ENOPKG},
		{"sig_len", set(trailer+8, 0x7f), RuleSigLen, EBADMSG},
	}
	for _, tt := range tests {
		_, err := CheckModule(tt.image, Newest)
		var re *RuleError
		errors.As(err, &re)
		switch {
		case tt.rule == "" && err != nil:
			t.Errorf("CheckModule(%s) = %v, want success", tt.name, err)
		case tt.rule != "" && (re == nil || re.Rule != tt.rule || re.Class != tt.class):
			t.Errorf("CheckModule(%s) = %v, want rule %s (%v)", tt.name, err, tt.rule, tt.class)
		}
	}
}
