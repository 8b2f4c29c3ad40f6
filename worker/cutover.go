package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/vagov/sidekiq"
)

// pollingJobClass is the Ruby job this worker replaces (original-system.md,
// "The polling job"; vets-api's app/sidekiq/lighthouse/).
const pollingJobClass = "Lighthouse::Form526DocumentUploadPollingJob"

// Defaults of `worker cutover check`. A Ruby run can keep running and
// retrying for about 42 minutes (7 retries, original-system.md "Switching
// over"); --wait's default covers that and its last attempt.
const (
	cutoverWaitDefault     = 50 * time.Minute
	cutoverWaitMax         = 2 * time.Hour
	cutoverIntervalDefault = 30 * time.Second
	// Two Sidekiq heartbeats and a half (10 s from Sidekiq 7, 5 s in 6): a
	// job taken off its queue is in its process's work hash by then.
	cutoverSettleDefault = 25 * time.Second
)

// exitNotClear is the exit status of a check that found the Ruby job still
// running, queued, retrying or scheduled (or no Sidekiq to ask).
const exitNotClear = 3

const cutoverSynopsis = `cutover check [--wait 50m] [--interval 30s] [--settle 25s] [--json]

check reads VA.gov's Sidekiq Redis (SIDEKIQ_REDIS_URL, else the worker's Redis) and says whether any
run of ` + pollingJobClass + ` is still running, queued, retrying or
scheduled. Exit 0: none (the worker may be switched on); 3: some, or no live Sidekiq process on that
Redis; 1: Redis could not be read. --wait keeps checking until none is left or the wait is over.`

func cutoverCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		printUsage(stdout, nil, cutoverSynopsis)
		return errHelp
	}
	if len(args) == 0 || args[0] != "check" {
		return &exitError{code: 2, err: errors.New("say check (see worker cutover --help)")}
	}
	fs := flag.NewFlagSet("cutover check", flag.ContinueOnError)
	wait := fs.Duration("wait", 0, fmt.Sprintf("keep checking until no run is left, for at most this long (e.g. %s; at most %s)", cutoverWaitDefault, cutoverWaitMax))
	interval := fs.Duration("interval", cutoverIntervalDefault, "with --wait: time between checks")
	settle := fs.Duration("settle", cutoverSettleDefault, "a clear check is taken again after this long, and counts only if both are clear (more than a Sidekiq heartbeat)")
	asJSON := fs.Bool("json", false, "print the last census as JSON")
	if err := parseFlags(fs, args[1:], stdout, cutoverSynopsis, 0); err != nil {
		return err
	}
	var check flagCheck
	check.notNegativeDuration("wait", *wait)
	check.positiveDuration("interval", *interval)
	check.notNegativeDuration("settle", *settle)
	if *wait > cutoverWaitMax {
		check = append(check, fmt.Sprintf("--wait must be at most %s, got %s", cutoverWaitMax, *wait))
	}
	if err := check.err(); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	logger := newLogger(cfg)
	rdb, where, err := sidekiqRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()

	deadline := time.Now().Add(*wait)
	for {
		c, err := sidekiq.Settled(ctx, rdb, cfg.SidekiqNamespace, pollingJobClass, *settle)
		if err != nil {
			return fmt.Errorf("read VA.gov's Sidekiq (%s): %w", where, err)
		}
		if c.Clear() || time.Now().Add(*interval).After(deadline) {
			printCensus(stdout, c, where, *asJSON)
			if !c.Clear() {
				return &exitError{code: exitNotClear, err: errors.New(notClearReason(c, where))}
			}
			return nil
		}
		logger.InfoContext(ctx, "waiting for the Ruby polling job to finish before the worker may poll",
			"running", len(c.Running), "queued", len(c.Queued), "retrying", len(c.Retrying), "scheduled", len(c.Scheduled),
			"sidekiq_processes", c.Processes, "wait_left", time.Until(deadline).Round(time.Second).String())
		if err := polling.Sleep(ctx, *interval); err != nil {
			return err
		}
	}
}

// sidekiqRedis connects to VA.gov's Sidekiq Redis: SIDEKIQ_REDIS_URL, else
// the worker's own, as the outbox relay does. where names it without its
// password.
func sidekiqRedis(cfg *config.Config) (rdb redis.UniversalClient, where string, err error) {
	if cfg.SidekiqRedisURL == "" {
		rdb, err = newRedis(cfg)
		return rdb, "REDIS_URL, as SIDEKIQ_REDIS_URL is not set", err
	}
	opts, err := redis.ParseURL(cfg.SidekiqRedisURL)
	if err != nil {
		return nil, "", &exitError{code: 2, err: errors.New("SIDEKIQ_REDIS_URL: not a redis:// or rediss:// URL")}
	}
	return redis.NewClient(opts), "SIDEKIQ_REDIS_URL", nil
}

// notClearReason says why the worker must not be switched on yet.
func notClearReason(c sidekiq.Census, where string) string {
	if c.Processes == 0 {
		return fmt.Sprintf("no live Sidekiq process on %s: is it VA.gov's Sidekiq Redis (Settings.redis.sidekiq.url)? Nothing can be said of the Ruby job there", where)
	}
	return fmt.Sprintf("%s still has %d run(s) (%d running, %d queued, %d retrying, %d scheduled): switching the worker on now could poll and email a failure twice",
		pollingJobClass, c.Jobs(), len(c.Running), len(c.Queued), len(c.Retrying), len(c.Scheduled))
}

// printCensus prints a census for people, or as JSON with clear and where.
func printCensus(w io.Writer, c sidekiq.Census, where string, asJSON bool) {
	if asJSON {
		out := struct {
			Clear bool   `json:"clear"`
			Redis string `json:"redis"`
			sidekiq.Census
		}{c.Clear(), where, c}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	fmt.Fprintf(w, "%s on VA.gov's Sidekiq (%s, %d live processes) at %s:\n",
		c.Class, where, c.Processes, c.TakenAt.Format(time.RFC3339))
	for _, group := range []struct {
		name string
		jobs []sidekiq.Sighting
	}{{"running", c.Running}, {"queued", c.Queued}, {"retrying", c.Retrying}, {"scheduled", c.Scheduled}} {
		fmt.Fprintf(w, "  %-9s %d\n", group.name, len(group.jobs))
		for _, j := range group.jobs {
			fmt.Fprintf(w, "    jid %s%s\n", j.JID, printable(sightingDetail(group.name, j)))
		}
	}
	if c.Clear() {
		fmt.Fprintln(w, "clear: no run of the Ruby job is left; the worker may be switched on")
	}
}

// sightingDetail is what a census line says of a job beyond its jid.
func sightingDetail(where string, j sidekiq.Sighting) string {
	var parts []string
	if j.Queue != "" {
		parts = append(parts, "queue "+j.Queue)
	}
	switch where {
	case "running":
		parts = append(parts, "on "+j.Process, "since "+j.At.Format(time.RFC3339))
	case "queued":
		parts = append(parts, "enqueued "+j.At.Format(time.RFC3339))
	case "retrying":
		if j.RetryCount != nil {
			parts = append(parts, fmt.Sprintf("failed %d time(s), retry: %v", *j.RetryCount+1, j.Retry))
		}
		parts = append(parts, "next "+j.At.Format(time.RFC3339))
	case "scheduled":
		parts = append(parts, "at "+j.At.Format(time.RFC3339))
	}
	if j.ErrorClass != "" {
		parts = append(parts, "last error "+j.ErrorClass+": "+j.ErrorMessage)
	}
	return ", " + strings.Join(parts, ", ")
}
