package polling

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/models"
)

// NotificationTarget hands one outbox entry's follow-up to the system that
// emails the veteran. Send must be idempotent per entry: the relay sends an
// entry again when it could not record the first send (a crash, Postgres
// down); the target then delivers nothing and answers duplicate.
type NotificationTarget interface {
	Send(ctx context.Context, e models.OutboxEntry) (duplicate bool, err error)
}

// Relay moves follow-ups from the Postgres outbox to their target. It runs
// after every batch that failed an upload, and on a timer, so a notification
// written while Redis was down is sent once Redis is back.
type Relay struct {
	DB      *gorm.DB
	Target  NotificationTarget
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// relayBatch bounds one relay transaction.
const relayBatch = 200

// Flush relays every unsent entry it can, and returns how many it sent.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	total := 0
	for {
		sent, failed, err := models.RelayOutbox(ctx, r.DB, relayBatch, r.Now(), r.send)
		total += sent
		if err != nil {
			return total, err
		}
		if failed > 0 {
			return total, fmt.Errorf("relay: %d follow-ups could not be enqueued; they stay in the outbox", failed)
		}
		if sent < relayBatch {
			return total, nil
		}
	}
}

func (r *Relay) send(ctx context.Context, e models.OutboxEntry) error {
	duplicate, err := r.Target.Send(ctx, e)
	switch {
	case err != nil:
		r.Metrics.NotificationErrors.Inc()
		return err
	case !duplicate:
		r.Metrics.NotificationsEnqueued.WithLabelValues(e.TaskType).Inc()
	}
	return nil
}

// Run flushes the outbox every interval until ctx ends, and keeps the unsent
// gauge current.
func (r *Relay) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.Flush(ctx); err != nil && ctx.Err() == nil {
			r.Logger.WarnContext(ctx, "failure follow-up relay did not finish; retrying on the next tick", "error", err.Error())
		}
		if n, err := models.UnsentOutboxCount(ctx, r.DB); err == nil {
			r.Metrics.OutboxUnsent.Set(float64(n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
