// Package cliapp runs a gokmod command built on urfave/cli: short options
// combine ("rmmod -fv"), output goes to the command's tool.Env, and usage
// errors are worded as glibc's getopt words them, as kmod's tools print them.
//
// It is apart from package tool so that a command with its own option
// parser (gomodinfo, started once per module by scripts) does not link
// urfave/cli and pay for its initialisation at every start.
package cliapp
