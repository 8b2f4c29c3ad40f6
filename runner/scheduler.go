package runner

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

// Scheduler enqueues one cycle task per cron tick, however many replicas run
// it. asynq's own Scheduler enqueues once per replica, so this one derives the
// task id from the tick time instead: every replica enqueues the same id and
// asynq keeps one. At start it catches up the latest tick once (not once per
// missed tick); if that tick already ran, the id is taken and nothing happens.
type Scheduler struct {
	Client   tasks.Enqueuer
	Queue    string
	Schedule cron.Schedule
	Logger   *slog.Logger
	Now      func() time.Time
}

// lookBack bounds the search for the latest tick before now.
const lookBack = 8 * 24 * time.Hour

// PreviousTick is the latest tick at or before now, or zero if none within
// eight days. A schedule's Next is zero when it finds no time (robfig/cron
// looks five years ahead), which ends the search too.
func PreviousTick(s cron.Schedule, now time.Time) time.Time {
	var prev time.Time
	for t := s.Next(now.Add(-lookBack)); !t.IsZero() && !t.After(now); t = s.Next(t) {
		prev = t
	}
	return prev
}

// ErrScheduleNeverFires is returned by Run for a schedule with no next tick
// (config.ParseSchedule refuses such a POLL_CRON, so this is a safeguard).
var ErrScheduleNeverFires = errors.New("the polling schedule has no next tick")

// Run enqueues ticks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	if prev := PreviousTick(s.Schedule, s.Now()); !prev.IsZero() {
		s.enqueue(ctx, prev, "catch-up")
	}
	for {
		next := s.Schedule.Next(s.Now())
		if next.IsZero() {
			s.Logger.ErrorContext(ctx, "the scheduler stops: its schedule has no next tick", "error", ErrScheduleNeverFires.Error())
			return ErrScheduleNeverFires
		}
		if err := polling.Sleep(ctx, time.Until(next)); err != nil {
			return nil
		}
		s.enqueue(ctx, next, "tick")
	}
}

// enqueue enqueues a tick's cycle, retrying while Redis is unreachable until
// the next tick is due.
func (s *Scheduler) enqueue(ctx context.Context, tick time.Time, why string) {
	task, err := tasks.NewPollingTask(s.Queue, tick)
	if err != nil {
		s.Logger.ErrorContext(ctx, "cannot build the polling task", "error", err.Error())
		return
	}
	deadline := s.Schedule.Next(tick)
	for attempt := 0; ; attempt++ {
		duplicate, err := tasks.Enqueue(ctx, s.Client, task)
		switch {
		case err == nil && !duplicate:
			s.Logger.InfoContext(ctx, "enqueued a polling cycle", "cycle_id", polling.CronCycleID(tick), "task_id", tasks.PollingTaskID(polling.CronCycleID(tick)), "why", why)
			return
		case err == nil:
			s.Logger.DebugContext(ctx, "polling cycle already enqueued by another replica", "cycle_id", polling.CronCycleID(tick), "why", why)
			return
		}
		wait := time.Duration(1<<min(attempt, 5)) * time.Second
		if s.Now().Add(wait).After(deadline) {
			s.Logger.ErrorContext(ctx, "could not enqueue the polling cycle before the next tick", "cycle_id", polling.CronCycleID(tick), "error", err.Error())
			return
		}
		s.Logger.WarnContext(ctx, "could not enqueue the polling cycle; retrying", "cycle_id", polling.CronCycleID(tick), "error", err.Error(), "retry_in", wait.String())
		if polling.Sleep(ctx, wait) != nil {
			return
		}
	}
}
