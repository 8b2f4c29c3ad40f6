//go:build dev

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/worker/bench"
)

// benchFlags are the flags of `worker bench` (the measuring is worker/bench).
type benchFlags struct {
	opts       bench.Options
	rateLimit  string
	asJSON     bool
	cpuProfile string
	set        multiFlag
}

// multiFlag collects a repeated KEY=VALUE flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func parseBenchFlags(args []string, stdout io.Writer) (*benchFlags, error) {
	f := &benchFlags{}
	o := &f.opts
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.IntVar(&o.Documents, "documents", 100_000, "pending uploads to seed and poll (rate-limited mode: default one minute of budget)")
	fs.IntVar(&o.BatchSize, "batch-size", config.DefaultPollBatchSize, "POLL_BATCH_SIZE of the workers (Lighthouse ids per call; the product's default)")
	fs.IntVar(&o.Workers, "workers", 2, "worker processes (`worker run --no-scheduler`); 0 runs one asynq server in this process")
	fs.IntVar(&o.Concurrency, "concurrency", 2, "WORKER_CONCURRENCY of each worker (default sized to a 2-core database: one batch more than --db-conns, so one is fetching while the other reads and writes)")
	fs.IntVar(&o.DBConns, "db-conns", 1, "DB_MAX_OPEN_CONNS of each worker (default sized to a 2-core database: with the default 2 workers, one statement per core; more at once only adds contention)")
	fs.StringVar(&f.rateLimit, "rate-limit", "", "N/min: the fake enforces N calls a minute and the workers share LIGHTHOUSE_RATE_LIMIT_PER_MINUTE=LIGHTHOUSE_RATE_BUDGET=N")
	fs.StringVar(&o.AdminURL, "admin-url", defaultAdminURL(), "maintenance database used to drop and create --database")
	fs.StringVar(&o.Database, "database", "lh526_bench", "the bench's own database (dropped and recreated)")
	fs.StringVar(&o.RedisURL, "redis-url", envOr("REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis (the run uses its own queue and key prefix, deleted afterwards)")
	fs.StringVar(&o.LogLevel, "log-level", "info", "LOG_LEVEL of the workers")
	fs.StringVar(&o.WorkerLog, "worker-log", "", "append the workers' output to this file (default: discarded)")
	fs.BoolVar(&o.Notifications, "notifications", false, "FAILURE_NOTIFICATIONS_ENABLED of the workers")
	fs.Var(&f.set, "set", "KEY=VALUE: another worker setting (repeatable), e.g. --set LIGHTHOUSE_MAX_RATE_LIMIT_WAIT=10s")
	fs.BoolVar(&o.SkipFloor, "no-floor", false, "do not measure the floor")
	fs.BoolVar(&o.WithoutRecommendedIndexes, "without-recommended-indexes", false,
		"drop the indexes the worker recommends on lighthouse526_document_uploads after seeding (as in VA.gov's database until its owners apply them)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the bench database afterwards")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process during the cycle (with --workers 0 it includes the worker)")
	if err := parseFlags(fs, args, stdout, "bench [--documents N] [--workers N] [--rate-limit N/min] [--json] [flags]", 0); err != nil {
		return nil, err
	}
	var check flagCheck
	check.positive("documents", int64(o.Documents))
	check.positive("batch-size", int64(o.BatchSize))
	check.notNegative("workers", int64(o.Workers))
	check.positive("concurrency", int64(o.Concurrency))
	check.positive("db-conns", int64(o.DBConns))
	check.positiveDuration("timeout", o.Timeout)
	if err := check.err(); err != nil {
		return nil, err
	}
	explicit := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { explicit[fl.Name] = true })
	if f.rateLimit != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(f.rateLimit, "/min"))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--rate-limit %q: want N/min", f.rateLimit)
		}
		o.RateLimit = n
		if !explicit["documents"] {
			o.Documents = n * o.BatchSize
		}
	}
	o.Env = map[string]string{}
	for _, kv := range f.set {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want KEY=VALUE", kv)
		}
		o.Env[k] = v
	}
	return f, nil
}

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseBenchFlags(args, stdout)
	if err != nil {
		var ee *exitError
		if errors.Is(err, errHelp) || errors.As(err, &ee) {
			return err
		}
		return &exitError{code: 2, err: err}
	}
	o := &f.opts
	if o.Executable, err = os.Executable(); err != nil {
		return err
	}
	o.InProcess = inProcessWorker(o.WorkerLog)
	progress := newBenchProgress(stderr)
	o.Phase, o.Progress = progress.phase, progress.update
	if f.cpuProfile != "" {
		o.AroundCycle = func() func() { return startCPUProfile(f.cpuProfile, stderr) }
	}
	res, err := bench.Run(ctx, *o)
	progress.finish()
	if res != nil && err == nil {
		if f.asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		}
		printBench(stdout, res)
	}
	return err
}

// startCPUProfile profiles this process until the returned function is called.
func startCPUProfile(path string, stderr io.Writer) func() {
	file, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(file)
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: --cpuprofile: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = file.Close()
	}
}

// defaultAdminURL is TEST_DATABASE_URL, else DATABASE_URL's server with the
// postgres database, else the local server.
func defaultAdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	if u, err := url.Parse(os.Getenv("DATABASE_URL")); err == nil && u.Host != "" {
		u.Path = "/postgres"
		return u.String()
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
