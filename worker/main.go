// Command worker follows Form 526 supplemental documents through Lighthouse:
// it polls the Benefits Documents API for every pending upload and records
// what happened to each. This package only wires; the logic lives in runner/,
// tasks/, polling/, lighthouse/, models/ and db/.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// command is one subcommand: its name, its line in the usage, and what runs
// it (in a file of its own, named after it).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands are the worker's subcommands, in the order usage lists them. A
// build with the dev tag adds devCommands (the bench, the fake Lighthouse and
// the demo's helpers); a production build has none of them.
var commands = append([]command{
	{"run", "run the worker: asynq server, cron scheduler, outbox relay, /metrics /healthz /readyz", runWorker},
	{"poll", "run one polling cycle now: --now inline, --wait to enqueue it and wait, or --dry-run to write nothing", pollCmd},
	{"enqueue", "enqueue an ad hoc task: enqueue track | enqueue poll (see -h of each)", enqueueCmd},
	{"uploads", "inspect uploads: uploads show <request-id> | uploads stuck [--older-than 24h] [--unknown-polls 3] | uploads release <upload-id>", uploadsCmd},
	{"api", "serve the HTTP enqueue API (POST /v1/uploads, POST /v1/polls) on API_ADDR", apiCmd},
	{"monitor", "serve the asynqmon web UI on MONITOR_ADDR, behind authentication (read-only unless MONITOR_READ_ONLY=false)", monitorCmd},
	{"migrate", "apply the schema migrations: migrate up | down | status", migrateCmd},
	{"cutover", "cutover check [--wait 50m]: is a run of the Ruby polling job still running, queued or retrying on VA.gov's Sidekiq?", cutoverCmd},
	{"outbox", "outbox show | drain [--timeout 2m]: the failure emails not yet handed to their target; drain pushes them (before a rollback)", outboxCmd},
	{"simulate", "compare fixed and adaptive polling over a simulated fortnight: latency, calls, a picture (--fit-from-db: on this database's history)", simulateCmd},
	{"config", "print the resolved configuration, secrets redacted", configCmd},
	{"version", "print the worker's version and the Go release it was built with", versionCmd},
}, devCommands...)

// lookup returns the subcommand called name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(runMain(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	cmd, ok := lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "worker: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		// An error may quote Lighthouse or a database row: escaped.
		fmt.Fprintf(stderr, "worker %s: %s\n", args[0], printable(err.Error()))
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: worker <command> [flags]\n\ncommands:")
	byName := slices.SortedFunc(slices.Values(commands), func(a, b command) int { return strings.Compare(a.name, b.name) })
	for _, c := range byName {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nSettings come from the environment; see README.md or `worker config`.")
}
