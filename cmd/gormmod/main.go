// Command gormmod is kmod's rmmod in Go; see package
// github.com/gokmod/gokmod/cmd/internal/rmmod.
package main

import (
	"os"

	"github.com/gokmod/gokmod/cmd/internal/rmmod"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() { os.Exit(rmmod.Main(tool.OS())) }
