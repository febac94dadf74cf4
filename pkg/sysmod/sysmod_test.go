package sysmod

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

const procModules = `kaidock_user 16384 0 - Live 0xffffffffc0a10000 (OE)
kaidock_export 16384 1 kaidock_user, Live 0xffffffffc0a08000 (OE)
gone 12288 0 - Live 0xffffffffc0a00000
kaidock 16384 0 - Live 0xffffffffc0a00000 (OE)
`

func fixture() fstest.MapFS {
	return fstest.MapFS{
		"proc/modules":                                   {Data: []byte(procModules)},
		"sys/module/kaidock_user/initstate":              {Data: []byte("live\n")},
		"sys/module/kaidock_user/coresize":               {Data: []byte("12288\n")},
		"sys/module/kaidock_user/refcnt":                 {Data: []byte("0\n")},
		"sys/module/kaidock_user/holders":                {Mode: 0o755 | 1<<31},
		"sys/module/kaidock_export/initstate":            {Data: []byte("live\n")},
		"sys/module/kaidock_export/coresize":             {Data: []byte("8192\n")},
		"sys/module/kaidock_export/refcnt":               {Data: []byte("1\n")},
		"sys/module/kaidock_export/holders/kaidock_user": {Data: nil},
		"sys/module/kaidock_export/taint":                {Data: []byte("OE\n")},
		"sys/module/kaidock/initstate":                   {Data: []byte("coming\n")},
		"sys/module/kaidock/coresize":                    {Data: []byte("20480\n")},
		"sys/module/kaidock/refcnt":                      {Data: []byte("0\n")},
		"sys/module/kaidock/parameters/loop":             {Data: []byte("3\n")},
		"sys/module/ext4/parameters/x":                   {Data: []byte("Y\n")},
		"sys/module/compression":                         {Data: []byte("xz\n")},
	}
}

func TestList(t *testing.T) {
	got, err := List(fixture())
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	want := []Module{
		{Name: "kaidock_user", Size: 12288, State: Live, Taints: "OE"},
		{Name: "kaidock_export", Size: 8192, Refcnt: 1, Holders: []string{"kaidock_user"}, State: Live, Taints: "OE"},
		{Name: "kaidock", Size: 20480, State: Coming, Taints: "OE"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List() mismatch (-want +got):\n%s", diff)
	}
}

func TestListErrors(t *testing.T) {
	if _, err := List(fstest.MapFS{}); err == nil {
		t.Error("List(no /proc/modules) = nil error, want one")
	}
	fsys := fstest.MapFS{"proc/modules": {Data: []byte("kaidock 16384\n")}}
	if _, err := List(fsys); !errors.Is(err, ErrMalformed) {
		t.Errorf("List(short line) = %v, want ErrMalformed", err)
	}
}

func TestGetState(t *testing.T) {
	tests := []struct {
		name    string
		want    State
		wantErr error
	}{
		{"kaidock", Coming, nil},
		{"kaidock_user", Live, nil},
		{"ext4", Builtin, nil},
		{"nosuch", Unknown, ErrNotLoaded},
		{"../etc", Unknown, ErrNotLoaded},
		{"", Unknown, ErrNotLoaded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := GetState(fixture(), tt.name)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("GetState(%q) = %v, %v, want %v, %v", tt.name, got, err, tt.want, tt.wantErr)
			}
		})
	}
	fsys := fixture()
	fsys["sys/module/kaidock/initstate"] = &fstest.MapFile{Data: []byte("weird\n")}
	if _, err := GetState(fsys, "kaidock"); !errors.Is(err, ErrState) {
		t.Errorf("GetState(weird) = %v, want ErrState", err)
	}
}

func TestGet(t *testing.T) {
	if _, err := Get(fixture(), "ext4"); !errors.Is(err, ErrBuiltin) {
		t.Errorf("Get(ext4) = %v, want ErrBuiltin", err)
	}
	if _, err := Get(fixture(), "gone"); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("Get(gone) = %v, want ErrNotLoaded", err)
	}
}

func TestStateText(t *testing.T) {
	for st := Unknown; st <= Builtin; st++ {
		b, _ := st.MarshalText()
		var got State
		if err := got.UnmarshalText(b); err != nil || got != st {
			t.Errorf("UnmarshalText(%q) = %v, %v, want %v", b, got, err, st)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("dead")); !errors.Is(err, ErrState) {
		t.Errorf("UnmarshalText(dead) = %v, want ErrState", err)
	}
}

func TestRefcnt(t *testing.T) {
	if n, err := Refcnt(fixture(), "kaidock_export"); n != 1 || err != nil {
		t.Errorf("Refcnt(kaidock_export) = %d, %v, want 1", n, err)
	}
	if _, err := Refcnt(fixture(), "ext4"); !errors.Is(err, ErrNoUnload) {
		t.Errorf("Refcnt(no refcnt file) = %v, want ErrNoUnload", err)
	}
	if _, err := Refcnt(fixture(), "nosuch"); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("Refcnt(nosuch) = %v, want ErrNotLoaded", err)
	}
}

func TestParamsTaintCompression(t *testing.T) {
	p, err := Params(fixture(), "kaidock")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"loop": "3"}, p); diff != "" {
		t.Errorf("Params(kaidock) mismatch (-want +got):\n%s", diff)
	}
	if _, err := Params(fixture(), "nosuch"); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("Params(nosuch) = %v, want ErrNotLoaded", err)
	}
	if got, err := Taint(fixture(), "kaidock_export"); got != "OE" || err != nil {
		t.Errorf("Taint(kaidock_export) = %q, %v, want OE", got, err)
	}
	if got := Compression(fixture()); got != "xz" {
		t.Errorf("Compression() = %q, want xz", got)
	}
	if got := Compression(fstest.MapFS{}); got != "" {
		t.Errorf("Compression(none) = %q, want empty", got)
	}
}

func TestParseProcModules(t *testing.T) {
	got, err := ParseProcModules(strings.NewReader("a 1 - - Live 0x0\nb 2 3 a,c, Unloading 0x0 (P)\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Name: "a", Size: 1, Refcnt: -1, State: "Live"},
		{Name: "b", Size: 2, Refcnt: 3, Users: []string{"a", "c"}, State: "Unloading", Taints: "P"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseProcModules mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"a 1 2 -\n", "a x 0 - Live 0x0\n", "a 1 y - Live 0x0\n"} {
		if _, err := ParseProcModules(strings.NewReader(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseProcModules(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func FuzzParseProcModules(f *testing.F) {
	f.Add([]byte(procModules))
	f.Add([]byte("b 2 3 a,c, Unloading 0x0 (P)\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := ParseProcModules(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Name == "" {
				t.Errorf("ParseProcModules(%q): entry without name", b)
			}
		}
	})
}
