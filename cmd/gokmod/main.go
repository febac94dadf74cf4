// Command gokmod is every gokmod tool in one binary, for initramfs images
// and other places where one static file is better than several. It acts as
// the tool it is called as (a link named insmod, rmmod, lsmod, modinfo,
// kmodsign, sign-file, modlink or link, with or without the "go" prefix),
// or as the tool its first argument names: "gokmod lsmod", "gokmod insmod
// kaidock.ko", "gokmod link kaidock.ko".
package main

import (
	"os"

	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() { os.Exit(run(tool.OS())) }
