// Command gokmodsign signs kernel modules like Ubuntu's kmodsign and the
// kernel's scripts/sign-file, verifies their signatures, and signs whole
// module trees in parallel. See package kmodsign.
package main

import (
	"os"

	"github.com/gokmod/gokmod/cmd/internal/kmodsign"
	"github.com/gokmod/gokmod/cmd/internal/tool"
)

func main() { os.Exit(kmodsign.Main(tool.OS())) }
