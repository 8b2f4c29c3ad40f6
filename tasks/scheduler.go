package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
)

// Scheduler enqueues one cycle task per cron tick, however many replicas run
// it. asynq's own Scheduler enqueues once per replica, so this one derives the
// task id from the tick time instead: every replica enqueues the same id and
// asynq keeps one. At start it catches up the latest tick once (not once per
// missed tick); if that tick already ran, the id is taken and nothing happens.
type Scheduler struct {
	Client   Enqueuer
	Queue    string
	Schedule cron.Schedule
	Logger   *slog.Logger
	Now      func() time.Time
}

// ParseSchedule parses a 5-field cron expression, evaluated in UTC.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard("CRON_TZ=UTC " + spec)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %w", spec, err)
	}
	return s, nil
}

// lookBack bounds the search for the latest tick before now.
const lookBack = 8 * 24 * time.Hour

// PreviousTick is the latest tick at or before now, or zero if none within
// eight days.
func PreviousTick(s cron.Schedule, now time.Time) time.Time {
	var prev time.Time
	for t := s.Next(now.Add(-lookBack)); !t.After(now); t = s.Next(t) {
		prev = t
	}
	return prev
}

// Run enqueues ticks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	if prev := PreviousTick(s.Schedule, s.Now()); !prev.IsZero() {
		s.enqueue(ctx, prev, "catch-up")
	}
	for {
		next := s.Schedule.Next(s.Now())
		if err := sleep(ctx, time.Until(next)); err != nil {
			return nil
		}
		s.enqueue(ctx, next, "tick")
	}
}

// enqueue enqueues a tick's cycle, retrying while Redis is unreachable until
// the next tick is due.
func (s *Scheduler) enqueue(ctx context.Context, tick time.Time, why string) {
	task, err := NewPollingTask(s.Queue, tick)
	if err != nil {
		s.Logger.ErrorContext(ctx, "cannot build the polling task", "error", err.Error())
		return
	}
	deadline := s.Schedule.Next(tick)
	for attempt := 0; ; attempt++ {
		info, err := s.Client.EnqueueContext(ctx, task)
		switch {
		case err == nil:
			s.Logger.InfoContext(ctx, "enqueued a polling cycle", "cycle_id", CronCycleID(tick), "task_id", info.ID, "why", why)
			return
		case errors.Is(err, asynq.ErrTaskIDConflict):
			s.Logger.DebugContext(ctx, "polling cycle already enqueued by another replica", "cycle_id", CronCycleID(tick), "why", why)
			return
		}
		wait := time.Duration(1<<min(attempt, 5)) * time.Second
		if s.Now().Add(wait).After(deadline) {
			s.Logger.ErrorContext(ctx, "could not enqueue the polling cycle before the next tick", "cycle_id", CronCycleID(tick), "error", err.Error())
			return
		}
		s.Logger.WarnContext(ctx, "could not enqueue the polling cycle; retrying", "cycle_id", CronCycleID(tick), "error", err.Error(), "retry_in", wait.String())
		if sleep(ctx, wait) != nil {
			return
		}
	}
}
