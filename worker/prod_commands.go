//go:build !dev

package main

import "github.com/vagov/lighthouse526/worker/simulate"

// writePicture: a production build draws no picture of `worker simulate`
// (see dev_commands.go); its figures and --json are the same.
var writePicture func(path string, r *simulate.Result) error

const defaultSimulateOut = ""

// devCommands: a production build has no dev subcommands (see
// dev_commands.go).
var devCommands []command
