// Command gomodinfo prints information about Linux kernel modules, as
// kmod's modinfo does.
package main

import (
	"os"

	"github.com/gokmod/gokmod/cmd/internal/modinfo"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() { os.Exit(modinfo.Main(tool.OS())) }
