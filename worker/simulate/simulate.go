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
	"fmt"
	"time"

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

// window is the measured days: whole days from measureStart.
func (o *Options) window() (start, end time.Time) {
	return measureStart, measureStart.AddDate(0, 0, o.Days)
}

// Validate says what is wrong with o, if anything.
func (o *Options) Validate() error {
	switch {
	case o.PerDay <= 0:
		return fmt.Errorf("arrivals a day must be positive, got %g", o.PerDay)
	case o.Warmup < 0:
		return fmt.Errorf("warm-up must not be negative, got %s", o.Warmup)
	case o.Days <= 0:
		return fmt.Errorf("measured days must be positive, got %d", o.Days)
	case o.Processing == nil:
		return fmt.Errorf("no processing-time distribution")
	case o.Budget <= 0:
		return fmt.Errorf("budget must be positive, got %d", o.Budget)
	case o.BatchSize <= 0:
		return fmt.Errorf("batch size must be positive, got %d", o.BatchSize)
	case o.Schedule.Floor <= 0:
		return fmt.Errorf("floor must be positive, got %s", o.Schedule.Floor)
	case o.FixedPeriod < time.Minute || o.FixedPeriod%time.Minute != 0:
		return fmt.Errorf("fixed cron period must be a whole number of minutes, got %s", o.FixedPeriod)
	}
	return o.Schedule.Ladder.Validate()
}

// Run simulates both strategies on the same uploads: the same arrivals and
// the same Lighthouse processing times.
func Run(o Options) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ups := workload(&o)
	res := &Result{Options: o, Uploads: len(ups)}
	for _, strategy := range []polling.Strategy{polling.StrategyFixed, polling.StrategyAdaptive} {
		e := newEngine(&o, strategy, ups)
		e.run()
		res.Strategies = append(res.Strategies, e.result())
	}
	res.Goals = goals(res.Fixed(), res.Adaptive(), o.Budget)
	return res, nil
}
