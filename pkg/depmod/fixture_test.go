package depmod

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A fixture tree is written from a map of relative paths (under the base
// directory) to contents: "mod:REL" copies the module REL of Debian's 6.1
// tree, "link:TARGET" makes a symlink, "dir:" a directory, "fifo:" a named
// pipe; anything else is the file's contents.
type tree map[string]string

const fxKver = "6.1.0-fx"

func (tr tree) write(t testing.TB, src string) string {
	t.Helper()
	base := t.TempDir()
	for rel, spec := range tr {
		p := filepath.Join(base, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasPrefix(spec, "mod:"):
			var data []byte
			data, err = os.ReadFile(filepath.Join(src, spec[4:]))
			if err == nil {
				err = os.WriteFile(p, data, 0o644)
			}
		case strings.HasPrefix(spec, "link:"):
			err = os.Symlink(spec[5:], p)
		case spec == "dir:":
			err = os.MkdirAll(p, 0o755)
		case spec == "fifo:":
			err = mkfifo(p)
		default:
			err = os.WriteFile(p, []byte(strings.ReplaceAll(spec, "BASE", base)), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return base
}

const md = "lib/modules/" + fxKver + "/"

// fdNumber hides the descriptor number kmod prints in fstatat and openat
// messages ("fstatat(4, x.ko)"), where gokmod names the directory.
var fdNumber = regexp.MustCompile(`(fstatat|openat)\([^,]*, `)

func TestFixtures(t *testing.T) {
	src, _ := debian61(t)
	kmodDepmod(t)
	ext4 := "mod:kernel/fs/ext4/ext4.ko"
	jbd2 := "mod:kernel/fs/jbd2/jbd2.ko"
	mbcache := "mod:kernel/fs/mbcache.ko"
	crc16 := "mod:kernel/lib/crc16.ko"
	fuse := "mod:kernel/fs/fuse/fuse.ko"
	loop := "mod:kernel/drivers/block/loop.ko"
	order := md + "modules.order"
	builtin, _ := os.ReadFile(filepath.Join(src, "modules.builtin"))
	binfo, _ := os.ReadFile(filepath.Join(src, "modules.builtin.modinfo"))
	truncated, _ := os.ReadFile(filepath.Join(src, "kernel/fs/fuse/fuse.ko"))
	for _, tc := range []struct {
		name string
		tree tree
		args []string // extra kmod arguments
		o    Options  // the same for Build
		want string   // a line kmod's modules.dep or messages must hold, proving the fixture does what it says
	}{
		{name: "plain with order and built-ins", tree: tree{
			md + "kernel/fs/ext4/ext4.ko": ext4, md + "kernel/fs/jbd2/jbd2.ko": jbd2,
			md + "kernel/fs/mbcache.ko": mbcache, md + "kernel/lib/crc16.ko": crc16,
			md + "kernel/fs/fuse/fuse.ko": fuse, md + "kernel/drivers/block/loop.ko": loop,
			order:                          "kernel/fs/fuse/fuse.ko\nkernel/lib/crc16.ko\nkernel/fs/ext4/ext4.ko\nkernel/fs/mbcache.ko\n",
			md + "modules.builtin":         string(builtin),
			md + "modules.builtin.modinfo": string(binfo),
		}, want: "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"},
		{name: "no modules.order, duplicates in updates", tree: tree{
			md + "kernel/fs/ext4/ext4.ko": ext4, md + "updates/ext4.ko": ext4,
			md + "kernel/fs/jbd2/jbd2.ko": jbd2, md + "updates/dkms/jbd2.ko": jbd2,
			md + "kernel/fs/mbcache.ko": mbcache, md + "kernel/lib/crc16.ko": crc16,
		}, want: "updates/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko updates/dkms/jbd2.ko\n"},
		{name: "order without final newline", tree: tree{
			md + "kernel/fs/fuse/fuse.ko": fuse, md + "kernel/drivers/block/loop.ko": loop,
			order: "kernel/drivers/block/loop.ko\nkernel/fs/fuse/fuse.ko",
		}, want: "corrupted line misses"},
		{name: "override and search", tree: tree{
			md + "kernel/fs/ext4/ext4.ko": ext4, md + "updates/ext4.ko": ext4, md + "extra/ext4.ko": ext4,
			md + "kernel/fs/jbd2/jbd2.ko": jbd2, md + "extra/jbd2.ko": jbd2, md + "updates/jbd2.ko": jbd2,
			md + "kernel/fs/mbcache.ko": mbcache, md + "extra/mbcache.ko": mbcache,
			md + "kernel/lib/crc16.ko": crc16, md + "updates/crc16.ko": crc16,
			"conf/a.conf": "# comment\nsearch extra built-in\nsearch updates\noverride ext4 * extra\noverride jbd2 6\\.1.* kernel/fs/jbd2\noverride crc16 5.* updates\nbogus line\n",
			"conf/b.txt":  "search nothing\n",
		}, args: []string{"-C", "BASE/conf"}, want: "extra/ext4.ko: kernel/lib/crc16.ko extra/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"},
		{name: "external and exclude", tree: tree{
			md + "kernel/fs/ext4/ext4.ko": ext4, "ext/ext4.ko": ext4, "ext/sub/fuse.ko": fuse,
			md + "kernel/fs/jbd2/jbd2.ko": jbd2, md + "skipme/loop.ko": loop,
			md + "kernel/fs/mbcache.ko": mbcache, md + "kernel/lib/crc16.ko": crc16,
			"conf/depmod.conf": "search external updates built-in\nexternal * BASE/ext\nexternal 9.* BASE/nowhere\nexclude skipme\n",
		}, args: []string{"-C", "BASE/conf/depmod.conf"}, want: "/ext/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n"},
		{name: "bad inputs", tree: tree{
			md + "kernel/fs/fuse/fuse.ko": fuse,
			md + "kernel/trunc.ko":        string(truncated[:3000]),
			md + "kernel/short.ko":        string(truncated[:40]),
			md + "kernel/empty.ko":        "",
			md + "kernel/garbage.ko":      "garbage\n",
			md + "kernel/x.ko":            "dir:",
			md + "kernel/dangling.ko":     "link:/nonexistent/module.ko",
			md + "kernel/pipe.ko":         "fifo:",
			md + "kernel/notamodule.txt":  "hello",
		}, want: "garbage.ko: Exec format error"},
		{name: "dry run", tree: tree{
			md + "kernel/fs/fuse/fuse.ko": fuse, md + "kernel/drivers/block/loop.ko": loop,
		}, args: []string{"-n"}, o: Options{DryRun: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.tree.write(t, src)
			args := []string{"-C", filepath.Join(base, "noconf")}
			o := tc.o
			o.ConfigPaths = []string{filepath.Join(base, "noconf")}
			for i := 0; i < len(tc.args); i++ {
				a := strings.ReplaceAll(tc.args[i], "BASE", base)
				if a == "-C" {
					o.ConfigPaths = []string{strings.ReplaceAll(tc.args[i+1], "BASE", base)}
					args = nil
				}
				args = append(args, a)
			}
			if tc.o.DryRun {
				checkDryRun(t, base, args, o)
				return
			}
			kmod := runKmod(t, base, fxKver, args...)
			kmod.stderr = fdNumber.ReplaceAllString(kmod.stderr, "$1(")
			gok := runGo(t, base, fxKver, o)
			gok.stderr = fdNumber.ReplaceAllString(gok.stderr, "$1(")
			same(t, kmod, gok)
			if !strings.Contains(string(kmod.files["modules.dep"])+kmod.stderr, tc.want) {
				t.Errorf("kmod's modules.dep and messages lack %q:\n%s%s", tc.want, kmod.files["modules.dep"], kmod.stderr)
			}
		})
	}
}

// checkDryRun compares kmod's depmod -n output with the text files Build
// renders, and checks that neither wrote anything.
func checkDryRun(t *testing.T, base string, args []string, o Options) {
	t.Helper()
	cmd := exec.Command(kmodDepmod(t), append(append([]string{"-b", base}, args...), fxKver)...)
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("kmod depmod -n: %v", err)
	}
	o.BaseDir, o.KVer = base, fxKver
	res, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	for _, f := range res.Files {
		if f.Text {
			got = append(got, f.Data...)
		} else if f.Data != nil {
			t.Errorf("-n rendered %s", f.Name)
		}
	}
	if string(got) != string(want) {
		t.Errorf("-n output differs:\ngokmod:\n%s\nkmod:\n%s", got, want)
	}
	if files := takeOutputs(t, filepath.Join(base, md)); len(files) != 0 {
		t.Errorf("-n left %d files", len(files))
	}
}
