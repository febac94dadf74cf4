// Command godepmod writes the module indexes modprobe and modinfo read, as
// kmod's depmod does.
package main

import (
	"os"
	"runtime/debug"

	"github.com/gokmod/gokmod/cmd/internal/depmod"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() {
	// A run allocates a little per module and keeps little; a soft limit
	// keeps the peak near what is live while a big compressed module is
	// decoded (without it the peak on Debian's 6.12 xz tree was twice
	// kmod's), and below it the collector runs half as often.
	debug.SetGCPercent(200)
	debug.SetMemoryLimit(64 << 20)
	os.Exit(depmod.Main(tool.OS()))
}
