// Command golsmod is kmod's lsmod in Go; see package
// github.com/gokmod/gokmod/cmd/internal/lsmod.
package main

import (
	"os"

	"github.com/gokmod/gokmod/cmd/internal/lsmod"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() { os.Exit(lsmod.Main(tool.OS())) }
