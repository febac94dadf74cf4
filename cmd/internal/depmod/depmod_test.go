package depmod

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"depmod": func() int { return Main(tool.OS()) },
	}))
}

// TestScripts runs the CLI scripts of testdata/script. Each starts with a
// module tree root/lib/modules/6.1.0-test holding pkg/modfile's fixture
// modules (gokmod_user needs a symbol of gokmod_params) in extra/, and an
// empty depmod.d directory conf/.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			fixtures := filepath.Join("..", "..", "..", "pkg", "modfile", "testdata")
			tree := filepath.Join(env.WorkDir, "root", "lib", "modules", "6.1.0-test")
			for _, d := range []string{filepath.Join(tree, "extra"), filepath.Join(env.WorkDir, "conf")} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					return err
				}
			}
			for _, name := range []string{"gokmod_params.ko", "gokmod_user.ko"} {
				data, err := os.ReadFile(filepath.Join(fixtures, name))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(tree, "extra", name), data, 0o644); err != nil {
					return err
				}
			}
			return os.WriteFile(filepath.Join(tree, "modules.order"), []byte("extra/gokmod_params.ko\nextra/gokmod_user.ko\n"), 0o644)
		},
	})
}
