// Command gomodlink shows how the kernel links a module; see package
// github.com/gokmod/gokmod/cmd/internal/modlink.
package main

import (
	"os"

	"github.com/gokmod/gokmod/cmd/internal/modlink"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() { os.Exit(modlink.Main(tool.OS())) }
