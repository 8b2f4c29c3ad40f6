package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
)

// version is the build's version: `make build` and `make image` stamp it
// with -ldflags "-X main.version=..." (the commit, from git describe); a plain
// `go build` leaves "dev". The image carries the same value in its
// org.opencontainers.image.version label.
var version = "dev"

func versionCmd(_ context.Context, args []string, stdout, _ io.Writer) error {
	if err := parseFlags(flag.NewFlagSet("version", flag.ContinueOnError), args, stdout, "version", 0); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
