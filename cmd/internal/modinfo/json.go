package modinfo

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"

	"github.com/gokmod/gokmod/pkg/modfile"
)

// jsonModule is what --json prints for a module.
type jsonModule struct {
	Name      string         `json:"name"`
	Filename  string         `json:"filename"`
	Builtin   bool           `json:"builtin"`
	Info      orderedInfo    `json:"info"`
	Params    []jsonParam    `json:"parameters"`
	Signature *jsonSignature `json:"signature,omitempty"`
	SigError  string         `json:"signature_error,omitempty"`
}

type jsonParam struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Type        string `json:"type,omitempty"`
}

type jsonSignature struct {
	IDType   string `json:"sig_id"`
	Signer   string `json:"signer"`
	KeyID    string `json:"sig_key"`
	BySKID   bool   `json:"sig_key_is_skid"`
	HashAlgo string `json:"sig_hashalgo"`
	KeyAlgo  string `json:"sig_keyalgo"`
	Value    string `json:"signature"` // lower-case hex, unwrapped
}

// orderedInfo marshals .modinfo strings as an object in section order: a
// key seen once has a string value, a repeated key an array.
type orderedInfo modfile.Info

func (o orderedInfo) MarshalJSON() ([]byte, error) {
	var keys []string
	values := map[string][]string{}
	for _, f := range o {
		if _, ok := values[f.Key]; !ok {
			keys = append(keys, f.Key)
		}
		values[f.Key] = append(values[f.Key], f.Value)
	}
	buf := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		kb, _ := json.Marshal(k)
		buf = append(buf, kb...)
		buf = append(buf, ':')
		var vb []byte
		if v := values[k]; len(v) == 1 {
			vb, _ = json.Marshal(v[0])
		} else {
			vb, _ = json.Marshal(v)
		}
		buf = append(buf, vb...)
	}
	return append(buf, '}'), nil
}

func (c *cmd) showJSON(m module) error {
	jm := jsonModule{Name: m.name, Filename: m.path, Builtin: m.path == ""}
	if jm.Builtin {
		jm.Filename = "(builtin)"
	}
	list, sig, sigErr, err := c.load(m)
	if err != nil && !(jm.Builtin && errors.Is(err, fs.ErrNotExist)) {
		c.errorf("could not get modinfo from '%s': %s", m.name, errnoText(err))
		c.env.Hintf("%v", err)
		return err
	}
	n := len(list)
	if sig != nil {
		n -= 5 // the signature fields load appended
		jm.Signature = &jsonSignature{
			IDType:   sig.IDType.String(),
			Signer:   sig.Signer,
			KeyID:    hexString(sig.KeyID),
			BySKID:   sig.BySKID,
			HashAlgo: sig.HashAlgo,
			KeyAlgo:  sig.KeyAlgo,
			Value:    hex.EncodeToString(sig.Value), // plain: no display wrapping
		}
	}
	if sigErr != nil {
		jm.SigError = sigErr.Error()
	}
	info := modfile.Info(list[:n])
	if v, ok := info.Value("name"); ok && !jm.Builtin {
		jm.Name = v
	}
	jm.Info = orderedInfo(info)
	params, _ := info.Params()
	jm.Params = []jsonParam{}
	for _, p := range params {
		jm.Params = append(jm.Params, jsonParam{Name: p.Name, Description: p.Description, Type: p.Type})
	}
	b, err := json.MarshalIndent(jm, "", "  ")
	if err != nil {
		return err
	}
	if c.jsonN > 0 {
		c.out.WriteString(",\n")
	}
	c.jsonN++
	c.out.Write(b)
	return nil
}
