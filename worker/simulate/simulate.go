// Package simulate compares the fixed and the adaptive polling strategies
// over a simulated fortnight (`worker simulate`): a discrete-event
// simulation in virtual time, which never sleeps or reads a clock, so that a
// seed always gives the same figures.
//
// It drives the product's own code wherever the product decides something:
//   - polling.Schedule.After (and through it Schedule.Next and Interval):
//     when an adaptive upload is polled next after each poll, and what the
//     schedule remembers of it (polling.Seen);
//   - polling.Due: the order of the due uploads (a heap), most overdue first;
//   - polling.CallsPerCycle: how many calls an adaptive cycle may hand on;
//   - polling.Split: the batches of POLL_BATCH_SIZE of a cycle;
//   - models.NextState (with its guards models.CanComplete and
//     models.CanFail): what a poll's answer does to the upload.
//
// It models itself what is not the product's: Lighthouse (each upload's
// processing time, drawn from a Mixture or from a database's history, its
// step moving from CLAIMS_EVIDENCE to BENEFITS_GATEWAY_SERVICE half-way, and
// its final SUCCESS or FAILED), the arrivals (a nonhomogeneous Poisson
// process with a weekday business-hours peak, Eastern time), the cron (a
// fixed cycle at :15 of every period, an adaptive one every minute), the
// mapping of a Lighthouse status to the state asked of the batch write (as
// polling's decide does it, which needs a database to run), the status
// digest, and the queue and shared Redis limiter between a cycle and its
// calls (a per-minute budget; a call and its write take effect in the
// minute the limiter lets it through). It does not model Lighthouse's
// latency or errors, 429s, unknown ids, retries, replicas, or the database.
package simulate

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/polling"
)

// Options is one simulation's workload and policy.
type Options struct {
	Seed   uint64
	PerDay float64 // arrivals a day, averaged over a week
	// Warmup runs before the measured days and is not measured: it fills
	// the backlog of slow and never-finishing uploads.
	Warmup time.Duration
	Days   int // measured days

	Processing Processing

	Budget      int // calls a minute (LIGHTHOUSE_RATE_BUDGET)
	BatchSize   int // ids a call (POLL_BATCH_SIZE)
	Schedule    polling.Schedule
	FixedPeriod time.Duration // the fixed strategy's cron period
	// FirstPoll is when the adaptive strategy first polls a new upload.
	FirstPoll FirstPoll
}

// FirstPoll is when the adaptive strategy first polls a new upload, which
// has no next-poll time yet.
type FirstPoll string

const (
	// FirstPollAtCreation: due at once, so the next cycle polls it.
	FirstPollAtCreation FirstPoll = "created"
	// FirstPollOnGrid: due at the ladder's first grid point after its
	// creation (Schedule.Next(created, created)), with the uploads already
	// on that rung.
	FirstPollOnGrid FirstPoll = "grid"
)

// ParseFirstPoll reads a FirstPoll.
func ParseFirstPoll(s string) (FirstPoll, error) {
	switch f := FirstPoll(s); f {
	case FirstPollAtCreation, FirstPollOnGrid:
		return f, nil
	}
	return "", fmt.Errorf("first poll %q: want %q or %q", s, FirstPollAtCreation, FirstPollOnGrid)
}

// Defaults of Options and of the command's flags.
const (
	DefaultPerDay      = 5000
	DefaultWarmup      = 72 * time.Hour
	DefaultDays        = 14
	DefaultBudget      = 30
	DefaultFloor       = 24 * time.Hour
	DefaultFixedPeriod = time.Hour
)

// Bounds of Options: a run's memory and time grow with the uploads it
// simulates (the uploads, each one's state per strategy, the due heap, the
// latencies), so MaxUploads bounds both: at the bound, `worker simulate
// --per-day 100000 --days 7 --warmup 72h` (1,000,000 uploads) peaked at
// 463 MB of RSS in 28 s on the 2-core VM, about 460 bytes an upload. The
// others refuse what no one means.
const (
	MaxPerDay  = 100_000 // twenty times today's 5,000
	MaxDays    = 92      // a quarter
	MaxWarmup  = 30 * 24 * time.Hour
	MaxUploads = 1_000_000 // PerDay × (Days + Warmup in days)
	MaxBudget  = 100_000   // LIGHTHOUSE_RATE_LIMIT_PER_MINUTE's own bound
	MaxFloor   = 7 * 24 * time.Hour
	MaxPeriod  = 24 * time.Hour // the fixed strategy's cron period
)

// ExpectedUploads is about how many uploads o simulates: its arrival rate
// over the warm-up and the measured days.
func (o *Options) ExpectedUploads() float64 {
	return o.PerDay * (float64(o.Days) + o.Warmup.Hours()/24)
}

// window is the measured days: whole days from measureStart.
func (o *Options) window() (start, end time.Time) {
	return measureStart, measureStart.AddDate(0, 0, o.Days)
}

// Validate says what is wrong with o, if anything.
func (o *Options) Validate() error {
	switch {
	case math.IsNaN(o.PerDay) || o.PerDay <= 0 || o.PerDay > MaxPerDay:
		return fmt.Errorf("arrivals a day must be positive and at most %d, got %g", MaxPerDay, o.PerDay)
	case o.Warmup < 0 || o.Warmup > MaxWarmup:
		return fmt.Errorf("warm-up must be between 0 and %s, got %s", MaxWarmup, o.Warmup)
	case o.Days <= 0 || o.Days > MaxDays:
		return fmt.Errorf("measured days must be positive and at most %d, got %d", MaxDays, o.Days)
	case o.ExpectedUploads() > MaxUploads:
		return fmt.Errorf("arrivals a day × (measured days + warm-up days) must be at most %d uploads, got %.0f", MaxUploads, o.ExpectedUploads())
	case o.Processing == nil:
		return fmt.Errorf("no processing-time distribution")
	case o.Budget <= 0 || o.Budget > MaxBudget:
		return fmt.Errorf("budget must be positive and at most %d, got %d", MaxBudget, o.Budget)
	case o.BatchSize <= 0:
		return fmt.Errorf("batch size must be positive, got %d", o.BatchSize)
	case o.Schedule.Floor < config.MinInterval || o.Schedule.Floor > MaxFloor:
		return fmt.Errorf("floor must be between %s and %s, got %s", config.MinInterval, MaxFloor, o.Schedule.Floor)
	case o.FixedPeriod < time.Minute || o.FixedPeriod > MaxPeriod || o.FixedPeriod%time.Minute != 0:
		return fmt.Errorf("fixed cron period must be a whole number of minutes up to %s, got %s", MaxPeriod, o.FixedPeriod)
	}
	return o.Schedule.Ladder.Validate()
}

// Run simulates both strategies on the same uploads: the same arrivals and
// the same Lighthouse processing times. It stops with ctx's error when ctx
// ends (SIGINT, SIGTERM).
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ups := workload(&o)
	res := &Result{Options: o, Uploads: len(ups)}
	for _, strategy := range []config.Strategy{config.StrategyFixed, config.StrategyAdaptive} {
		e := newEngine(&o, strategy, ups)
		if err := e.run(ctx); err != nil {
			return nil, fmt.Errorf("simulate: %w", err)
		}
		res.Strategies = append(res.Strategies, e.result())
	}
	res.Goals = goals(res.Fixed(), res.Adaptive(), o.Budget)
	return res, nil
}
