package modinfo

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(m, map[string]func() int{
		"modinfo": func() int { return Main(tool.OS()) },
	}))
}

// TestScripts runs the CLI scripts of testdata/script. Each starts in a
// directory holding pkg/modfile's fixture modules (and gzip copies) and a module tree
// root/lib/modules/6.1.0-test built from them.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			fixtures := filepath.Join("..", "..", "..", "pkg", "modfile", "testdata")
			tree := filepath.Join(env.WorkDir, "root", "lib", "modules", "6.1.0-test")
			if err := os.MkdirAll(filepath.Join(tree, "extra"), 0o755); err != nil {
				return err
			}
			for _, name := range []string{"gokmod_params.ko", "gokmod_params.signed.ko", "gokmod_user.ko"} {
				data, err := os.ReadFile(filepath.Join(fixtures, name))
				if err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(env.WorkDir, name), data, 0o644); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(tree, "extra", name), data, 0o644); err != nil {
					return err
				}
				var gz bytes.Buffer
				zw := gzip.NewWriter(&gz)
				zw.Write(data)
				if err := zw.Close(); err != nil {
					return err
				}
				if err := os.WriteFile(filepath.Join(env.WorkDir, name+".gz"), gz.Bytes(), 0o644); err != nil {
					return err
				}
			}
			files := map[string]string{
				"modules.dep": "extra/gokmod_params.ko:\nextra/gokmod_user.ko: extra/gokmod_params.ko\n",
				"modules.alias": "# Aliases extracted from modules themselves.\n" +
					"alias gokmod:params gokmod_params\nalias gokmod-test-alias gokmod_params\nalias gokmod:* gokmod_user\n",
				"modules.symbols":         "alias symbol:gokmod_params_value gokmod_params\n",
				"modules.builtin":         "kernel/fs/ext4/ext4.ko\nkernel/lib/crc16.ko\n",
				"modules.builtin.modinfo": strings.Join([]string{"ext4.license=GPL", "ext4.alias=fs-ext4", "ext4.description=Fourth Extended Filesystem", ""}, "\x00"),
			}
			for name, data := range files {
				if err := os.WriteFile(filepath.Join(tree, name), []byte(data), 0o644); err != nil {
					return err
				}
			}
			return nil
		},
	})
}
