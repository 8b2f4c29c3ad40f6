package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// Bounds of `worker outbox drain`.
const (
	drainTimeoutDefault = 2 * time.Minute
	drainTimeoutMax     = time.Hour
	// drainRetryEvery spaces the relay's attempts while some entries fail.
	drainRetryEvery = 2 * time.Second
)

// exitOutboxLeft is the exit status of a drain that left entries unsent.
const exitOutboxLeft = 3

const outboxSynopsis = `outbox show [--limit 20] [--json]
       worker outbox drain [--timeout 2m] [--json]

The outbox holds the failure emails (Sidekiq jobs, or asynq tasks with NOTIFICATION_TARGET=asynq)
written with each failed upload and not yet handed to their target. show lists them; drain pushes
every one it can, retrying those that fail until the timeout, then reports what is left (exit 3
if any). Drain before a rollback to the Ruby job: it knows nothing of the outbox, so what is left
there is never sent.`

func outboxCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 && isHelp(args[0]) {
		printUsage(stdout, nil, outboxSynopsis)
		return errHelp
	}
	if len(args) == 0 || (args[0] != "show" && args[0] != "drain") {
		return &exitError{code: 2, err: errors.New("say show or drain (see worker outbox --help)")}
	}
	verb := args[0]
	fs := flag.NewFlagSet("outbox "+verb, flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 20, "list at most this many unsent entries")
	var timeout *time.Duration
	synopsis := "outbox show [--limit 20] [--json]"
	if verb == "drain" {
		timeout = fs.Duration("timeout", drainTimeoutDefault, fmt.Sprintf("give up on the entries still failing after this long (at most %s)", drainTimeoutMax))
		synopsis = "outbox drain [--timeout 2m] [--limit 20] [--json]"
	}
	if err := parseFlags(fs, args[1:], stdout, synopsis, 0); err != nil {
		return err
	}
	var check flagCheck
	check.positive("limit", int64(*limit))
	if timeout != nil {
		check.positiveDuration("timeout", *timeout)
		if *timeout > drainTimeoutMax {
			check = append(check, fmt.Sprintf("--timeout must be at most %s, got %s", drainTimeoutMax, *timeout))
		}
	}
	if err := check.err(); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if verb == "drain" {
		if err := cfg.RequireDrainTarget(); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	a, err := newOutboxApp(ctx, cfg)
	if err != nil {
		return err
	}
	defer a.close()

	rep := outboxReport{Target: cfg.NotificationTarget}
	if verb == "drain" {
		rep.Drained = true
		rep.Pushed, err = a.drainOutbox(ctx, *timeout)
		if err != nil {
			return err
		}
		rep.WorkersRunning = a.workersRunning(ctx)
	}
	if rep.status, err = models.ReadOutbox(ctx, a.db, *limit); err != nil {
		return err
	}
	printOutbox(stdout, rep, *asJSON)
	if rep.Drained && rep.status.Unsent > 0 {
		return &exitError{code: exitOutboxLeft, err: fmt.Errorf("%d failure email(s) are left in the outbox (see last_error); fix what they fail on and drain again: a rollback now loses them", rep.status.Unsent)}
	}
	return nil
}

// newOutboxApp wires what the outbox needs (Postgres, the Redis of its
// target, the relay) and no more: no Lighthouse credentials are asked for.
func newOutboxApp(ctx context.Context, cfg *config.Config) (*app, error) {
	a := &app{cfg: cfg, logger: newLogger(cfg), reg: newRegistry()}
	var err error
	if a.db, err = openDB(ctx, cfg, a.logger, "lighthouse526-outbox"); err != nil {
		return nil, err
	}
	if err = requireMigrated(ctx, a.db); err != nil {
		a.close()
		return nil, err
	}
	if a.rdb, err = newRedis(cfg); err != nil {
		a.close()
		return nil, err
	}
	a.client = asynq.NewClientFromRedisClient(a.rdb)
	a.metrics = polling.NewMetrics(a.reg)
	target, err := a.notificationTarget()
	if err != nil {
		a.close()
		return nil, err
	}
	now := func() time.Time { return time.Now().UTC() }
	a.relay = &polling.Relay{DB: a.db, Target: target, Metrics: a.metrics, Logger: a.logger, Now: now}
	return a, nil
}

// drainOutbox relays every unsent entry, again every drainRetryEvery while
// some fail, until none is left or timeout has passed. It returns how many
// it pushed.
func (a *app) drainOutbox(ctx context.Context, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pushed := 0
	for {
		n, err := a.relay.Flush(ctx)
		pushed += n
		if err == nil {
			return pushed, nil
		}
		if ctx.Err() != nil {
			return pushed, nil // the report says what is left
		}
		a.logger.WarnContext(ctx, "outbox drain: some failure emails could not be pushed; trying again", "error", err.Error())
		if polling.Sleep(ctx, drainRetryEvery) != nil {
			return pushed, nil
		}
	}
}

// workersRunning is how many `worker run` processes asynq knows to be alive
// (their heartbeat): a drain while they run leaves what they fail after it.
func (a *app) workersRunning(ctx context.Context) int {
	insp := asynq.NewInspectorFromRedisClient(a.rdb)
	servers, err := insp.Servers()
	if err != nil {
		a.logger.WarnContext(ctx, "outbox drain: could not list the worker processes", "error", err.Error())
		return 0
	}
	n := 0
	for _, s := range servers {
		if _, ok := s.Queues[a.cfg.QueueName]; ok {
			n++
		}
	}
	return n
}

// outboxReport is what `worker outbox` prints.
type outboxReport struct {
	Target         string
	Drained        bool
	Pushed         int
	WorkersRunning int
	status         models.OutboxStatus
}

// outboxEntryJSON is one unsent entry as printed.
type outboxEntryJSON struct {
	ID        int64           `json:"id"`
	UploadID  int64           `json:"upload_id"`
	TaskType  string          `json:"task_type"`
	Payload   json.RawMessage `json:"payload"`
	Attempts  int             `json:"attempts"`
	LastError *string         `json:"last_error,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

func printOutbox(w io.Writer, r outboxReport, asJSON bool) {
	s := r.status
	if asJSON {
		entries := make([]outboxEntryJSON, len(s.Entries))
		for i, e := range s.Entries {
			entries[i] = outboxEntryJSON{e.ID, e.UploadID, e.TaskType, json.RawMessage(e.Payload), e.Attempts, e.LastError, e.CreatedAt.UTC()}
		}
		out := map[string]any{
			"target": r.Target, "sent": s.Sent, "unsent": s.Unsent, "failing": s.Failing,
			"oldest_unsent": s.OldestUnsent, "entries": entries,
		}
		if r.Drained {
			out["pushed"], out["workers_running"] = r.Pushed, r.WorkersRunning
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return
	}
	if r.Drained {
		fmt.Fprintf(w, "pushed %d failure email(s) to %s\n", r.Pushed, r.Target)
		if r.WorkersRunning > 0 {
			fmt.Fprintf(w, "warning: %d `worker run` process(es) still run: what they fail after this drain stays in the outbox; stop them, then drain again\n", r.WorkersRunning)
		}
	}
	fmt.Fprintf(w, "outbox: %d sent, %d unsent (%d failing)", s.Sent, s.Unsent, s.Failing)
	if s.OldestUnsent != nil {
		fmt.Fprintf(w, ", the oldest written %s", s.OldestUnsent.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	if len(s.Entries) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUPLOAD\tTASK TYPE\tATTEMPTS\tWRITTEN\tLAST ERROR")
	for _, e := range s.Entries {
		last := ""
		if e.LastError != nil {
			last = printable(*e.LastError)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%s\t%s\n", e.ID, e.UploadID, e.TaskType, e.Attempts, e.CreatedAt.UTC().Format(time.RFC3339), last)
	}
	_ = tw.Flush()
}
