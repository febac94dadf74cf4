package preflight

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/gokmod/gokmod/pkg/compression"
	"github.com/gokmod/gokmod/pkg/modsig"
	"github.com/gokmod/gokmod/pkg/modsig/cms"
)

// vmCache is the VM test bed's cache (vm/cache.go), or "".
func vmCache() string {
	if d := os.Getenv("GOKMOD_CACHE"); d != "" {
		return d
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(base, "gokmod")
}

// cachedBuilds pairs each module directory of the VM cache that carries
// its kernel's build files (vm/buildinfo.go) with that kernel's build
// directory, found by its Module.symvers.
func cachedBuilds(t *testing.T) map[string][2]string {
	cache := vmCache()
	mods, _ := filepath.Glob(filepath.Join(cache, "modules", "*", "kernel-Module.symvers"))
	if len(mods) == 0 {
		t.Skipf("no provisioned VM cache with build files in %s (run gokmod-vm provision)", cache)
	}
	builds, _ := filepath.Glob(filepath.Join(cache, "kernels", "*", "root", "usr", "src", "linux-headers-*", "Module.symvers"))
	secure, _ := filepath.Glob(filepath.Join(cache, "secure", "build-*", "Module.symvers"))
	out := map[string][2]string{}
	for _, m := range mods {
		want, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range append(builds, secure...) {
			if got, err := os.ReadFile(b); err == nil && bytes.Equal(got, want) {
				flavour, _, _ := strings.Cut(filepath.Base(filepath.Dir(m)), "-")
				out[flavour] = [2]string{filepath.Dir(m), filepath.Dir(b)}
			}
		}
	}
	return out
}

// TestCachedKernels checks the VM's companion modules on the host against
// the guest kernels' build directories: every verdict must be what the
// kernel answered in the guest (tests/preflight_test.go proves those
// answers), or unknown.
func TestCachedKernels(t *testing.T) {
	for flavour, dirs := range cachedBuilds(t) {
		t.Run(flavour, func(t *testing.T) {
			modDir, buildDir := dirs[0], dirs[1]
			read := func(name string) []byte {
				b, err := os.ReadFile(filepath.Join(modDir, name+".ko"))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			treeFiles := fstest.MapFS{
				"modules.dep":       {Data: []byte("kaidock_export.ko:\n")},
				"modules.symbols":   {Data: []byte("alias symbol:kaidock_export_value kaidock_export\n")},
				"modules.builtin":   {Data: nil},
				"kaidock_export.ko": {Data: read("kaidock_export")},
			}
			signer := func(data []byte) []byte { return data }
			if flavour == "secure" {
				keys := filepath.Join(vmCache(), "keys", "v1")
				der, err1 := os.ReadFile(filepath.Join(keys, "rsa2048.der"))
				priv, err2 := os.ReadFile(filepath.Join(keys, "rsa2048.priv"))
				if err1 != nil || err2 != nil {
					t.Skipf("no test keys in %s", keys)
				}
				cert, err := cms.ParseCertificate(der)
				if err != nil {
					t.Fatal(err)
				}
				key, err := cms.ParsePrivateKey(priv)
				if err != nil {
					t.Fatal(err)
				}
				hash, _ := modsig.HashByName("sha256")
				s, err := cms.NewSigner(key, cert, cms.Options{Hash: hash})
				if err != nil {
					t.Fatal(err)
				}
				signer = func(data []byte) []byte {
					block, err := s.Sign(data)
					if err != nil {
						t.Fatal(err)
					}
					return append(append([]byte{}, data...), block...)
				}
			}
			zst, err := compression.Compress(compression.Zstd, signer(read("kaidock")))
			if err != nil {
				t.Fatal(err)
			}
			tests := []struct {
				name      string
				image     []byte
				params    string
				loaded    []string
				want      Verdict
				wantErrno syscall.Errno
			}{
				{"good", signer(read("kaidock")), "loop=1", nil, Passed, 0},
				{"zstd", zst, "", nil, Passed, 0},
				{"wrong vermagic", signer(read("kaidock_badmagic")), "", nil, Failed, syscall.ENOEXEC},
				{"unknown symbol", signer(read("kaidock_unknownsym")), "", nil, Failed, syscall.ENOENT},
				{"gpl-only from non-gpl", signer(read("kaidock_gplonly")), "", nil, Failed, syscall.ENOENT},
				{"user before exporter", signer(read("kaidock_user")), "", nil, Failed, syscall.ENOENT},
				{"user after exporter", signer(read("kaidock_user")), "", []string{"kaidock_export"}, Passed, 0},
				{"bad int value", signer(read("kaidock_params")), "intparam=abc", nil, Failed, syscall.EINVAL},
				{"short out of range", signer(read("kaidock_params")), "shortparam=70000", nil, Failed, syscall.ERANGE},
				{"module_layout version", signer(flipCRC(t, read("kaidock"), "module_layout")), "", nil, Failed, syscall.ENOEXEC},
				{"unsigned", read("kaidock"), "", nil, Passed, 0}, // unknown offline on every flavour: enforcement is per boot
			}
			same, unknown := 0, 0
			for _, tt := range tests {
				tg, err := Offline(os.DirFS(buildDir), buildDir, OfflineOptions{Tree: NewTree(treeFiles), Loaded: tt.loaded})
				if err != nil {
					t.Fatalf("Offline(%s) = %v", buildDir, err)
				}
				r := CheckImage(tt.image, tt.params, tg)
				switch {
				case r.Verdict == Unknown:
					unknown++
				case r.Verdict == tt.want && (r.Errno == 0 || r.Errno == tt.wantErrno):
					same++
				default:
					t.Errorf("%s: offline check = %s %s at %s, the kernel answers %s %s", tt.name, r.Verdict, ErrnoName(r.Errno), r.Step, tt.want, ErrnoName(tt.wantErrno))
				}
			}
			t.Logf("preflight offline (host, %s): %d/%d as the kernel, %d unknown", buildDir, same, len(tests), unknown)
		})
	}
}

// flipCRC returns a copy of a module whose __versions CRC of sym is wrong.
func flipCRC(t *testing.T, data []byte, sym string) []byte {
	t.Helper()
	i := bytes.Index(data, append([]byte(sym), 0))
	if i < 8 {
		t.Fatalf("no %s in __versions", sym)
	}
	out := append([]byte{}, data...)
	out[i-8] ^= 0x5a
	return out
}
