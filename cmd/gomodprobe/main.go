// Command gomodprobe loads and unloads Linux kernel modules by name or
// alias with their dependencies, as kmod's modprobe does.
package main

import (
	"os"

	"github.com/gokmod/gokmod/cmd/internal/modprobe"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() {
	os.Exit(modprobe.Main(tool.OS()))
}
