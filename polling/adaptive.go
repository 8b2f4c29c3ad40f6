package polling

import (
	"context"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
)

// Adaptive is what POLL_STRATEGY=adaptive changes in a cycle: its fan-out
// claims the uploads the schedule says are due (models.ClaimDue) instead of
// reading every upload not polled within the window, and a cron cycle hands
// on no more batches than its share of the rate budget. The rest stay due,
// the most overdue first in the next cycle.
type Adaptive struct {
	Schedule Schedule
	// BudgetPerMinute is how many Lighthouse calls a minute this worker may
	// spend (LIGHTHOUSE_RATE_BUDGET).
	BudgetPerMinute int
	// Period is the time from a cron cycle scheduled at t to the next one
	// (POLL_CRON's): the cycle's share of the budget is the budget of that
	// time (CallsPerCycle).
	Period func(t time.Time) time.Duration
	// Lease is how long a claimed upload is held back from other cycles
	// while the batch holding it waits in the queue and runs; its write
	// replaces the lease with the schedule's next time, and an upload whose
	// batch never wrote falls due again when the lease ends.
	Lease time.Duration
}

// FirstPoll is the interval whose first multiple after an upload's
// creation is its first poll: the ladder's first rung, as Schedule.Next
// gives for an upload of age 0.
func (a *Adaptive) FirstPoll() time.Duration {
	return a.Schedule.Interval(0)
}

// LeaseFor is the lease of a claimed upload: one attempt of its batch task
// (batchTimeout: asynq cuts an attempt off then) plus one cron period, how
// long a cycle's batches, which are capped at one period's budget, may wait
// in the queue behind the previous cycle's. Shorter, a batch still queued
// or running would see its uploads claimed again by the next cycle and
// polled twice; longer, an upload whose batch failed waits longer before a
// later cycle claims it afresh (its retries may poll it before that).
func LeaseFor(batchTimeout, period time.Duration) time.Duration {
	return batchTimeout + period
}

// unknownStatus is what StatusDigest digests for a request id Lighthouse
// does not know.
const unknownStatus = "NOT_FOUND"

// StatusDigest is a stable 64-bit digest of what Lighthouse says of an
// upload's progress: the document's status, then each step's name and
// status in order (FNV-1a over them, each ended by a zero byte). Times and
// descriptions are left out: a status that only restates them has not
// moved. The digest is stored (status_digest), so this encoding never
// changes.
func StatusDigest(status string, steps []lighthouse.Step) uint64 {
	h := fnv.New64a()
	write := func(s string) {
		_, _ = h.Write([]byte(s))
		_, _ = h.Write([]byte{0})
	}
	write(status)
	for _, st := range steps {
		write(st.Name)
		write(st.Status)
	}
	return h.Sum64()
}

// digestOf is the digest of status s (its steps decoded from Raw; a status
// whose steps cannot be read is digested without them).
func digestOf(s *lighthouse.Status) uint64 {
	steps, _ := s.DecodeSteps()
	return StatusDigest(s.Status, steps)
}

// schedule sets each result's next poll (POLL_STRATEGY=adaptive; none under
// fixed) from the upload's age, what was last seen of it, and what this
// poll found: the status applied (decisions[j].status), unknown to
// Lighthouse, or nothing (an entry that could not be read, or missing from
// the answer), which counts as no move.
func (u *StatusUpdater) schedule(uploads []models.PendingUpload, results []models.PollResult, decisions []decision, now time.Time) {
	if u.Schedule == nil {
		return
	}
	for j := range results {
		up := &uploads[j]
		prev := Seen{}
		if up.StatusChangedAt != nil && up.StatusDigest != nil {
			prev = Seen{Digest: uint64(*up.StatusDigest), ChangedAt: *up.StatusChangedAt} //nolint:gosec // G115: the digest's bits, stored as bigint
		}
		digest := prev.Digest
		switch {
		case decisions[j].status != nil:
			digest = digestOf(decisions[j].status)
		case results[j].Unknown:
			digest = StatusDigest(unknownStatus, nil)
		}
		next, seen := u.Schedule.After(now, up.CreatedAt, prev, digest)
		results[j].Schedule = &models.PollSchedule{
			NextPollAt: next, StatusChangedAt: seen.ChangedAt,
			StatusDigest: int64(seen.Digest), //nolint:gosec // G115: likewise
		}
	}
}

// maxCountedDue is as far as the deferred gauge counts: past it, the gauge
// says "at least this many", which is all an operator needs to act.
const maxCountedDue = 10_000

// reportDeferred sets the gauges of an adaptive cron cycle's backlog: how
// many uploads it left due for a later cycle because it reached its share
// of the budget (capped), and how long the most overdue upload it claimed
// had been due (oldest; zero when it claimed none).
func (c *Cycle) reportDeferred(ctx context.Context, log *slog.Logger, capped bool, oldest time.Time) {
	deferred := 0
	if capped {
		n, err := models.CountDue(ctx, c.DB, c.Now(), c.Adaptive.FirstPoll(), maxCountedDue)
		if err != nil {
			log.WarnContext(ctx, "could not count the uploads left due for a later cycle", "error", err.Error())
			return
		}
		deferred = n
	}
	c.Metrics.DocumentsDeferred.Set(float64(deferred))
	overdue := 0.0
	if !oldest.IsZero() {
		overdue = max(c.Now().Sub(oldest).Seconds(), 0)
	}
	c.Metrics.OldestOverdue.Set(overdue)
	if deferred > 0 {
		log.InfoContext(ctx, "polling cycle reached its share of the rate budget; the rest stay due for the next cycle",
			"documents_deferred", deferred, "oldest_overdue_seconds", overdue)
	}
}
