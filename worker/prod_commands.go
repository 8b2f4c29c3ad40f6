//go:build !dev

package main

// devCommands: a production build has no dev subcommands (see
// dev_commands.go).
var devCommands []command
