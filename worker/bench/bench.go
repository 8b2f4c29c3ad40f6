// Package bench measures one full polling cycle at production volume, the
// logic behind `worker bench`: it creates its own database and seeds N
// pending uploads, registers the same documents in an in-process fake
// Lighthouse, runs one cycle through the real asynq path (cycle task, batch
// tasks, updates) in worker processes, and measures the raw floor of the same
// database and Redis work in the same run.
package bench

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"
)

// Options configure a run. Zero values get the defaults of Defaults.
type Options struct {
	AdminURL  string // maintenance database, to drop and create Database
	Database  string // the bench's own database, dropped and recreated
	RedisURL  string
	Documents int
	BatchSize int // POLL_BATCH_SIZE of the workers

	Workers     int // worker processes; 0 runs InProcess instead
	Concurrency int // WORKER_CONCURRENCY of each worker
	DBConns     int // DB_MAX_OPEN_CONNS of each worker
	Executable  string
	// InProcess starts a worker in this process from environ and returns
	// its stop function (Workers 0).
	InProcess func(ctx context.Context, environ []string) (stop func(), err error)

	// RateLimit, when set, is both the fake's limit and the workers' shared
	// LIGHTHOUSE_RATE_LIMIT_PER_MINUTE and LIGHTHOUSE_RATE_BUDGET; 0 leaves
	// the fake unlimited.
	RateLimit int
	// Env is extra worker settings (e.g. LIGHTHOUSE_MAX_RATE_LIMIT_WAIT).
	Env map[string]string

	Notifications bool   // FAILURE_NOTIFICATIONS_ENABLED
	LogLevel      string // LOG_LEVEL of the workers
	WorkerLog     string // file for the workers' output; default discarded
	Timeout       time.Duration
	SkipFloor     bool
	// WithoutRecommendedIndexes drops the indexes the worker recommends on
	// VA.gov's uploads table after seeding: the worker as it runs in a
	// database whose owners have not applied them.
	WithoutRecommendedIndexes bool
	Keep                      bool // keep the database afterwards

	// Progress, if set, is called with documents polled so far.
	Progress func(polled, total int)
	// Phase, if set, is told what the run is doing.
	Phase func(string)
	// AroundCycle, if set, is called as the cycle task is enqueued; what it
	// returns is called once the cycle is done (e.g. a CPU profile).
	AroundCycle func() (done func())
}

// Defaults fills zero options.
func (o *Options) Defaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&o.Documents, 100_000)
	def(&o.BatchSize, 100)
	def(&o.Concurrency, 10)
	def(&o.DBConns, 10)
	if o.AdminURL == "" {
		o.AdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	if o.Database == "" {
		o.Database = "lh526_bench"
	}
	if o.RedisURL == "" {
		o.RedisURL = "redis://127.0.0.1:6379/0"
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Minute
	}
}

// Result is what a run measured.
type Result struct {
	Documents   int `json:"documents"`
	Batches     int `json:"batches"`
	BatchSize   int `json:"batch_size"`
	Workers     int `json:"workers"`
	Concurrency int `json:"concurrency"`
	// RecommendedIndexes: whether the uploads table had the indexes the
	// worker recommends (`worker migrate --print-recommended-indexes`).
	RecommendedIndexes bool `json:"recommended_indexes"`

	SeedSeconds        float64 `json:"seed_seconds"`
	WallSeconds        float64 `json:"wall_seconds"`
	FanOutSeconds      float64 `json:"fan_out_seconds"`
	DocumentsPerSecond float64 `json:"documents_per_second"`
	MicrosPerDocument  float64 `json:"microseconds_per_document"`

	Polled    int `json:"polled"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Unknown   int `json:"unknown"`

	Lighthouse Calls `json:"lighthouse"`

	SQLStatements         int64   `json:"sql_statements"`
	SQLStatementsPerBatch float64 `json:"sql_statements_per_batch"`
	SQLCountMethod        string  `json:"sql_count_method"`

	BatchP50Seconds float64 `json:"batch_p50_seconds"`
	BatchP99Seconds float64 `json:"batch_p99_seconds"`
	BatchTasks      int     `json:"batch_tasks"`

	PeakRSSBytes    []int64 `json:"peak_rss_bytes"`
	PeakRSSMaxBytes int64   `json:"peak_rss_max_bytes"`
	PeakRSSOf       string  `json:"peak_rss_of"`

	CPU CPU `json:"cpu"`

	Floor        *Floor  `json:"floor,omitempty"`
	RatioToFloor float64 `json:"ratio_to_floor,omitempty"`
}

// sqlCountMethod says how SQLStatements is counted.
const sqlCountMethod = "pg_stat_database xact_commit+xact_rollback delta of the bench database " +
	"(autocommit: one per statement), from before the cycle task to after the workers exited, " +
	"minus the bench's own progress queries; includes the workers' background loops"

// Run runs one bench.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.Defaults()
	switch {
	case o.Workers < 0 || o.Documents < 1 || o.BatchSize < 1:
		return nil, errors.New("bench: --workers, --documents and --batch-size must be positive")
	case o.Workers == 0 && o.InProcess == nil:
		return nil, errNoWorkers
	case o.Workers > 0 && o.Executable == "":
		return nil, errors.New("bench: the worker executable is unknown")
	}
	if o.Workers > 0 {
		// This process is the measuring apparatus (the fake Lighthouse holds
		// every document): collecting its large heap less often leaves the
		// CPU to the workers and the database being measured.
		defer debug.SetGCPercent(debug.SetGCPercent(benchGCPercent))
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	r := &run{o: o, res: &Result{Documents: o.Documents, BatchSize: o.BatchSize, Workers: o.Workers, Concurrency: o.Concurrency,
		RecommendedIndexes: !o.WithoutRecommendedIndexes}}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	if err := r.cycle(ctx); err != nil {
		return r.res, err
	}
	if !o.SkipFloor {
		r.phase("measuring the floor")
		f, err := measureFloor(ctx, r.db, r.rdb, r.prefix+"floor", r.res.Batches, o.BatchSize)
		if err != nil {
			return r.res, err
		}
		r.res.Floor = &f
		if f.Seconds > 0 {
			r.res.RatioToFloor = r.res.WallSeconds / f.Seconds
		}
	}
	return r.res, nil
}

// benchGCPercent is the bench process's GOGC while worker processes run.
const benchGCPercent = 400

// newKey returns a fresh RSA key for the fake and its PEM for the workers.
func newKey() (*rsa.PrivateKey, string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, "", err
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return key, string(p), nil
}

// runID names this run's queue and Redis keys.
func runID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return strconv.FormatInt(time.Now().Unix(), 36) + hex.EncodeToString(b)
}

func (r *run) phase(s string) {
	if r.o.Phase != nil {
		r.o.Phase(s)
	}
}

func errorf(format string, a ...any) error { return fmt.Errorf("bench: "+format, a...) }
