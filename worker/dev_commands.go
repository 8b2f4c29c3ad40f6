//go:build dev

package main

import "github.com/vagov/lighthouse526/worker/simulate/picture"

// writePicture draws `worker simulate`'s picture (gonum/plot, dev build
// only), and defaultSimulateOut is where by default.
var writePicture = picture.Write

const defaultSimulateOut = "simulation.svg"

// devCommands are the subcommands of a dev build (make build, the specs):
// the bench harness, the fake Lighthouse and the demo's helpers. They link
// the fake Lighthouse and the bench, which a production build (the image,
// `go build ./worker`) leaves out.
var devCommands = []command{
	{"bench", "measure one full polling cycle at volume against an in-process fake Lighthouse", benchCmd},
	{"fake-lighthouse", "serve a fake Lighthouse Benefits Documents API for local runs and tests", fakeCmd},
	{"demo-seed", "demo only: upload sample documents to a (fake) Lighthouse and track them through track tasks", demoSeedCmd},
	{"demo-watch", "demo only: show uploads per state every second until none is pending, then a final table", demoWatchCmd},
}
