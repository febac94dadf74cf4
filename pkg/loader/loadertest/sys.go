package loadertest

import "testing/fstest"

// SysModule returns a root file system whose /sys/module holds one module
// of each kind Unload tells apart:
//
//   - kaidock_user: loaded, unused; unloading it succeeds.
//   - kaidock_export: loaded, held by kaidock_user (and so referenced).
//   - busy: loaded, not held, but referenced (refcnt 2).
//   - noref: loaded on a kernel without CONFIG_MODULE_UNLOAD (no refcnt).
//   - ext4: built in, known from its parameters directory.
//
// Any other name is not loaded. Each call returns a new map, which the
// caller may change.
func SysModule() fstest.MapFS {
	return fstest.MapFS{
		"sys/module/kaidock_export/initstate":            {Data: []byte("live\n")},
		"sys/module/kaidock_export/coresize":             {Data: []byte("8192\n")},
		"sys/module/kaidock_export/refcnt":               {Data: []byte("1\n")},
		"sys/module/kaidock_export/holders/kaidock_user": {},
		"sys/module/kaidock_user/initstate":              {Data: []byte("live\n")},
		"sys/module/kaidock_user/coresize":               {Data: []byte("8192\n")},
		"sys/module/kaidock_user/refcnt":                 {Data: []byte("0\n")},
		"sys/module/busy/initstate":                      {Data: []byte("live\n")},
		"sys/module/busy/coresize":                       {Data: []byte("8192\n")},
		"sys/module/busy/refcnt":                         {Data: []byte("2\n")},
		"sys/module/ext4/parameters/x":                   {Data: []byte("1\n")},
		"sys/module/noref/initstate":                     {Data: []byte("live\n")},
		"sys/module/noref/coresize":                      {Data: []byte("8192\n")},
	}
}
