package explain

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/gokmod/gokmod/pkg/modfile/modfiletest"
)

// The hint reads the module from the image the loader already read (and
// decompressed), not from the file again.
func TestDiagnosisUsesLoadedImage(t *testing.T) {
	img := modfiletest.Module("license=GPL\x00name=fromimage\x00parm=x:a parameter\x00parmtype=x:int\x00")
	d := Diagnosis(filepath.Join(t.TempDir(), "missing.ko"), img, 0, errors.New("load failed"), nil)
	if d.Name != "fromimage" || d.License != "GPL" || len(d.Params) != 1 || d.Params[0] != "x" {
		t.Errorf("Diagnosis(image) = name %q, license %q, params %q; want fromimage, GPL, [x]", d.Name, d.License, d.Params)
	}
}
