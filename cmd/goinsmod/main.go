// Command goinsmod is kmod's insmod in Go; see package
// github.com/gokmod/gokmod/cmd/internal/insmod.
package main

import (
	"os"

	"github.com/gokmod/gokmod/cmd/internal/insmod"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() { os.Exit(insmod.Main(tool.OS())) }
