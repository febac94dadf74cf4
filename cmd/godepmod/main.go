// Command godepmod writes the module indexes modprobe and modinfo read, as
// kmod's depmod does.
package main

import (
	"os"

	"github.com/gokmod/gokmod/cmd/internal/depmod"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() {
	os.Exit(depmod.Main(tool.OS()))
}
