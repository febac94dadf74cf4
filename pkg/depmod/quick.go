package depmod

import (
	"os"
)

// UpToDate reports whether the indexes of dir are newer than every module
// file under it, as kmod's -A decides: a module file (followed through
// symlinks; build and source skipped) modified after modules.dep makes
// them out of date. A missing modules.dep is logged, as kmod logs it, and
// means out of date.
func UpToDate(dir string, logf func(Level, string)) bool {
	log := &logger{fn: logf}
	d, err := os.Open(dir)
	if err != nil {
		log.errorf("could not open directory %s: %s", dir, errText(err))
		return false
	}
	defer d.Close()
	st, err := os.Stat(dir + "/modules.dep")
	if err != nil {
		log.errorf("could not fstatat(%s, modules.dep): %s", dir, errText(err))
		return false
	}
	return newerThan(d, dir, st.ModTime().Unix(), log)
}

// newerThan walks a directory and reports false at the first module file
// whose mtime (in whole seconds, as kmod compares st_mtime) is later.
func newerThan(d *os.File, dir string, mtime int64, log *logger) bool {
	names, _ := d.Readdirnames(-1)
	for _, name := range names {
		if name == "build" || name == "source" {
			continue
		}
		path := dir + "/" + name
		st, err := os.Stat(path)
		if err != nil {
			log.errorf("fstatat(%s, %s): %s", dir, name, errText(err))
			continue
		}
		switch {
		case st.IsDir():
			sub, err := os.Open(path)
			if err != nil {
				log.errorf("openat(%s, %s, O_RDONLY): %s", dir, name, errText(err))
				continue
			}
			ok := newerThan(sub, path, mtime, log)
			sub.Close()
			if !ok {
				return false
			}
		case st.Mode().IsRegular():
			if isModuleFile(name) && st.ModTime().Unix() > mtime {
				return false
			}
		default:
			log.errorf("unsupported file type %s: %o", path, modeBits(st.Mode()))
		}
	}
	return true
}
