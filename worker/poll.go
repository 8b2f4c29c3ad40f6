package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

// pollSummary is what `worker poll` prints.
type pollSummary struct {
	CycleID string `json:"cycle_id"`
	// DryRun: nothing was written; the outcomes are what the write would do.
	DryRun  bool `json:"dry_run,omitempty"`
	Due     int  `json:"due"`
	Batches int  `json:"batches"`
	polling.BatchSummary
	Errors int `json:"errors"`
	// BatchErrors says which batch failed and why, one line each.
	BatchErrors []string `json:"batch_errors,omitempty"`
	Seconds     float64  `json:"seconds"`
}

func pollCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("poll", flag.ContinueOnError)
	now := fs.Bool("now", false, "run the cycle in this process, through the same code as the tasks")
	wait := fs.Bool("wait", false, "enqueue the cycle for the workers and wait until its batches are done")
	timeout := fs.Duration("timeout", time.Hour, "with --wait: give up after this long")
	dryRun := fs.Bool("dry-run", false, "ask Lighthouse about every due upload inline and print what would change, writing nothing (no record, cycle, quarantine, follow-up or StatsD line)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if err := parseFlags(fs, args, stdout, "poll --now | --wait [--timeout 1h] | --dry-run [--json]", 0); err != nil {
		return err
	}
	if modes := btoi(*now) + btoi(*wait) + btoi(*dryRun); modes != 1 {
		return &exitError{code: 2, err: errors.New("say one of --now, --wait or --dry-run")}
	}
	var check flagCheck
	check.positiveDuration("timeout", *timeout)
	if err := check.err(); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if *now {
		// The inline poll sends its follow-ups itself, as `run` does.
		if err := cfg.RequireEmailTarget(); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	logger := newLogger(cfg)
	if *dryRun {
		// Nothing reaches Datadog, and every line says it changed nothing.
		cfg.StatsDAddr, logger = config.StatsDNone, logger.With("dry_run", true)
	}
	a, err := newApp(ctx, cfg, logger, "poll")
	if err != nil {
		return err
	}
	defer a.close()

	start := time.Now()
	id := "manual:" + start.UTC().Format(time.RFC3339Nano)
	var sum pollSummary
	switch {
	case *dryRun:
		sum, err = a.pollDry(ctx, start)
	case *now:
		sum, err = a.pollInline(ctx, id, start)
	default:
		sum, err = a.pollAndWait(ctx, id, start, *timeout)
	}
	sum.Seconds = time.Since(start).Seconds()
	printPollSummary(stdout, sum, *asJSON)
	if err == nil && sum.Errors > 0 {
		// The summary says how many; the exit status and this say which.
		err = fmt.Errorf("%d of %d batches failed (their uploads stay due): %s",
			sum.Errors, sum.Batches, strings.Join(sum.BatchErrors, "; "))
	}
	return err
}

// pollInline fans out and polls every batch here; a failing batch is counted
// and skipped (its uploads stay due), never aborts the run, and its error is
// kept for the summary.
func (a *app) pollInline(ctx context.Context, id string, start time.Time) (pollSummary, error) {
	sum := pollSummary{CycleID: id}
	res, err := a.cycle.Run(ctx, a.logger, id, start, func(ctx context.Context, batch polling.Batch) error {
		b, err := a.batch.Poll(ctx, a.logger, id, batch.RequestIDs, true)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			sum.Errors++
			sum.BatchErrors = append(sum.BatchErrors, fmt.Sprintf("batch %d (%d request ids from upload %d): %v",
				batch.Seq, len(batch.RequestIDs), batch.FirstUploadID, err))
			return nil
		}
		sum.BatchSummary.Add(b)
		return nil
	})
	sum.Due, sum.Batches = res.DocumentsDue, res.Batches
	sum.Quarantined += res.Quarantined
	return sum, err
}

// pollDry is pollInline writing nothing: the due uploads as of start, each
// batch read, asked and decided by the same code, with no write.
func (a *app) pollDry(ctx context.Context, start time.Time) (pollSummary, error) {
	a.updater.DryRun, a.batch.Relay = true, nil
	sum := pollSummary{CycleID: "dry-run", DryRun: true}
	res, err := a.cycle.DryRun(ctx, start, func(ctx context.Context, ids []string) error {
		b, err := a.batch.Poll(ctx, a.logger, "", ids, true)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			sum.Errors++
			sum.BatchErrors = append(sum.BatchErrors, fmt.Sprintf("a batch of %d request ids: %v", len(ids), err))
			return nil
		}
		sum.BatchSummary.Add(b)
		return nil
	})
	sum.Due, sum.Batches = res.DocumentsDue, res.Batches
	sum.Quarantined += res.Unpollable
	return sum, err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pollAndWait enqueues an ad hoc cycle and waits for its batches.
func (a *app) pollAndWait(ctx context.Context, id string, start time.Time, timeout time.Duration) (pollSummary, error) {
	task, err := tasks.NewAdHocPollingTask(a.cfg.QueueName, id, start)
	if err != nil {
		return pollSummary{CycleID: id}, err
	}
	if _, err := a.client.EnqueueContext(ctx, task); err != nil {
		return pollSummary{CycleID: id}, fmt.Errorf("enqueue: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		var c models.PollingCycle
		if err := a.db.WithContext(ctx).Take(&c, "id = ?", id).Error; err == nil && c.Done() {
			return pollSummary{
				CycleID: id, Due: c.DocumentsDue, Batches: c.BatchesEnqueued,
				BatchSummary: polling.BatchSummary{
					Polled: c.DocumentsPolled, Completed: c.CompletedCount, Failed: c.FailedCount,
					StillPending: c.DocumentsPolled - c.CompletedCount - c.FailedCount, Unknown: c.UnknownCount,
				},
			}, nil
		}
		select {
		case <-ctx.Done():
			return pollSummary{CycleID: id}, fmt.Errorf("cycle %s not finished: %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

func printPollSummary(w io.Writer, s pollSummary, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "due\tbatches\tpolled\tcompleted\tfailed\tstill pending\tunknown\tmalformed\tquarantined\terrors\tseconds\t")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t\n",
		s.Due, s.Batches, s.Polled, s.Completed, s.Failed, s.StillPending, s.Unknown, s.Malformed, s.Quarantined, s.Errors, s.Seconds)
	_ = tw.Flush()
	if s.DryRun {
		fmt.Fprintln(w, "dry run: nothing was written; completed, failed and quarantined are what a poll would do now")
	}
}
