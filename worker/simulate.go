package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/worker/simulate"
)

const simulateSynopsis = `simulate [--seed N] [--ladder L] [--budget N] [--fit-from-db] [--out simulation.svg] [--json] [flags]

Simulates a fortnight of uploads in virtual time (no Lighthouse, no Redis;
a database only with --fit-from-db) and prints, for the fixed and the
adaptive polling strategies side by side, detection latency, calls, polls
per upload and the never-finishing uploads' poll intervals, against the
goals of adaptive polling. Writes a picture of the two latency CDFs and of
calls per hour (--out, SVG or PNG by extension).`

// simulateFlags are the flags of `worker simulate`.
type simulateFlags struct {
	opts      simulate.Options
	mixture   string
	never     float64
	failed    float64
	ladder    string
	firstPoll string
	fitFromDB bool
	out       string
	asJSON    bool
}

func parseSimulateFlags(args []string, stdout io.Writer) (*simulateFlags, error) {
	f := &simulateFlags{}
	o := &f.opts
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same figures")
	fs.Float64Var(&o.PerDay, "per-day", simulate.DefaultPerDay, "uploads a day, averaged over a week (weekday business hours busiest, Eastern)")
	fs.DurationVar(&o.Warmup, "warmup", simulate.DefaultWarmup, "simulated before the measured days, not measured (fills the backlog)")
	fs.IntVar(&o.Days, "days", simulate.DefaultDays, "measured days, from a Monday")
	fs.StringVar(&f.mixture, "mixture", simulate.DefaultMixture, "Lighthouse processing times: share:within:median components, each a lognormal in its window (from the previous one's end)")
	fs.Float64Var(&f.never, "never", simulate.DefaultNever, "share of uploads Lighthouse never finishes")
	fs.Float64Var(&f.failed, "failed", simulate.DefaultFailed, "share of finished uploads that end FAILED")
	fs.BoolVar(&f.fitFromDB, "fit-from-db", false, "draw processing times from the completed and failed uploads in DATABASE_URL instead of --mixture")
	fs.IntVar(&o.Budget, "budget", simulate.DefaultBudget, "calls a minute the worker may make (LIGHTHOUSE_RATE_BUDGET)")
	fs.IntVar(&o.BatchSize, "batch-size", config.DefaultPollBatchSize, "ids a call (POLL_BATCH_SIZE)")
	fs.StringVar(&f.ladder, "ladder", config.DefaultLadder, "adaptive poll intervals by age: comma-separated from:every")
	fs.StringVar(&f.firstPoll, "first-poll", string(simulate.FirstPollOnGrid), "adaptive: when a new upload is first polled: grid (the ladder's first grid point after its creation, as the due scan does) or created (due at once, the next cycle)")
	fs.DurationVar(&o.Schedule.Floor, "floor", simulate.DefaultFloor, "adaptive: the longest any upload waits between polls")
	fs.DurationVar(&o.FixedPeriod, "fixed-cron-period", simulate.DefaultFixedPeriod, "fixed: the cron period (a cycle at :15 of each)")
	fs.StringVar(&f.out, "out", defaultSimulateOut, "the picture: a .svg or .png file (empty: none; drawn by the dev build only, make build)")
	fs.BoolVar(&f.asJSON, "json", false, "print the figures as JSON")
	if err := parseFlags(fs, args, stdout, simulateSynopsis, 0); err != nil {
		return nil, err
	}

	// Every number finite and bounded: --per-day NaN once ran for ever,
	// deaf to SIGINT, and grew to 21 GB; Inf, 1e12 and --days 100000 ran
	// out of memory.
	var check flagCheck
	check.floatRange("per-day", o.PerDay, math.SmallestNonzeroFloat64, simulate.MaxPerDay)
	check.durationRange("warmup", o.Warmup, 0, simulate.MaxWarmup)
	check.intRange("days", int64(o.Days), 1, simulate.MaxDays)
	check.fraction("never", f.never)
	check.fraction("failed", f.failed)
	check.intRange("budget", int64(o.Budget), 1, simulate.MaxBudget)
	check.intRange("batch-size", int64(o.BatchSize), 1, config.MaxPollBatchSize)
	check.durationRange("floor", o.Schedule.Floor, config.MinInterval, simulate.MaxFloor)
	if o.FixedPeriod < time.Minute || o.FixedPeriod > simulate.MaxPeriod || o.FixedPeriod%time.Minute != 0 {
		check = append(check, fmt.Sprintf("--fixed-cron-period must be a whole number of minutes up to %s, got %s", simulate.MaxPeriod, o.FixedPeriod))
	}
	if len(check) == 0 && o.ExpectedUploads() > simulate.MaxUploads {
		check = append(check, fmt.Sprintf("--per-day × (--days + --warmup in days) must be at most %d uploads (memory grows with them, about 460 bytes each), got %.0f",
			simulate.MaxUploads, o.ExpectedUploads()))
	}
	var err error
	if o.Schedule.Ladder, err = config.ParseLadder(f.ladder); err != nil {
		check = append(check, "--ladder: "+err.Error())
	}
	if o.FirstPoll, err = simulate.ParseFirstPoll(f.firstPoll); err != nil {
		check = append(check, "--first-poll: "+err.Error())
	}
	if !f.fitFromDB {
		if o.Processing, err = simulate.ParseMixture(f.mixture, f.never, f.failed); err != nil {
			check = append(check, "--mixture: "+err.Error())
		}
	}
	switch {
	case f.out != "" && writePicture == nil:
		check = append(check, fmt.Sprintf("--out %q: this is a production build, which draws no pictures (build with make build, or use --json)", f.out))
	case f.out != "" && !simulate.PictureFormat(f.out):
		check = append(check, fmt.Sprintf("--out %q: want a .svg or .png file", f.out))
	}
	return f, check.err()
}

func simulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseSimulateFlags(args, stdout)
	if err != nil {
		return err
	}
	if f.fitFromDB {
		if f.opts.Processing, err = fitFromDB(ctx, f.never); err != nil {
			return err
		}
	}
	res, err := simulate.Run(ctx, f.opts)
	if err != nil {
		return err
	}
	if f.out != "" {
		if err := writePicture(f.out, res); err != nil {
			return err
		}
	}
	if f.asJSON {
		return simulate.WriteJSON(stdout, res)
	}
	if err := simulate.WriteText(stdout, res); err != nil {
		return err
	}
	if f.out != "" {
		fmt.Fprintf(stdout, "picture: %s\n", f.out)
	}
	return nil
}

// fitFromDB reads the processing times of DATABASE_URL's finished uploads.
func fitFromDB(ctx context.Context, defaultNever float64) (simulate.Processing, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, err
	}
	gdb, err := openDB(ctx, cfg, newLogger(cfg), "lighthouse526-simulate")
	if err != nil {
		return nil, err
	}
	defer db.Close(gdb)
	return simulate.FitFromDB(ctx, gdb, defaultNever)
}
