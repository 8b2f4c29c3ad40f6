package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// OutboxEntry is a follow-up task written with a failure transition and
// relayed to the queue after the transaction committed.
type OutboxEntry struct {
	ID         int64
	UploadID   int64
	TaskType   string
	Payload    JSON
	Attempts   int
	LastError  *string
	CreatedAt  time.Time
	EnqueuedAt *time.Time
}

// TableName is this worker's own table.
func (OutboxEntry) TableName() string { return "lighthouse526_notification_outbox" }

// RelayOutbox hands up to limit unsent entries to send, oldest first, inside a
// transaction that locks them (SKIP LOCKED: replicas relay different rows), and
// marks each one sent or records its error. send must be idempotent per entry
// (a task id derived from the upload id): a crash after send and before commit
// sends again, and the queue refuses the duplicate.
func RelayOutbox(ctx context.Context, db *gorm.DB, limit int, now time.Time, send func(context.Context, OutboxEntry) error) (sent, failed int, err error) {
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var entries []OutboxEntry
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"}).
			// Fewest attempts first: entries that keep failing never block the
			// ones behind them.
			Where("enqueued_at IS NULL").Order("attempts, id").Limit(limit).Find(&entries).Error; err != nil {
			return err
		}
		var sentIDs []int64
		for _, e := range entries {
			if sendErr := send(ctx, e); sendErr != nil {
				failed++
				msg := sendErr.Error()
				if err := tx.Model(&OutboxEntry{}).Where("id = ?", e.ID).
					Updates(map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_error": msg}).Error; err != nil {
					return err
				}
				continue
			}
			sentIDs = append(sentIDs, e.ID)
		}
		if len(sentIDs) == 0 {
			return nil
		}
		sent = len(sentIDs)
		return tx.Model(&OutboxEntry{}).Where("id IN ?", sentIDs).
			// A row sent after failed attempts no longer says it failed.
			Updates(map[string]any{"enqueued_at": now.UTC(), "attempts": gorm.Expr("attempts + 1"), "last_error": nil}).Error
	})
	if err != nil {
		return 0, 0, fmt.Errorf("models: relay outbox: %w", err)
	}
	return sent, failed, nil
}

// UnsentOutboxCount is the number of notifications not yet handed to Redis.
func UnsentOutboxCount(ctx context.Context, db *gorm.DB) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Model(&OutboxEntry{}).Where("enqueued_at IS NULL").Count(&n).Error
	return n, err
}

// OutboxStatus is what the outbox holds: the follow-ups handed to their
// target, those not yet (and how many of them failed an attempt), the oldest
// of those, and the first few of them.
type OutboxStatus struct {
	Sent         int64
	Unsent       int64
	Failing      int64 // unsent after at least one failed attempt
	OldestUnsent *time.Time
	Entries      []OutboxEntry // unsent, oldest first, at most the limit asked
}

// ReadOutbox reads the outbox's counts in one statement, and up to limit of
// its unsent entries.
func ReadOutbox(ctx context.Context, db *gorm.DB, limit int) (OutboxStatus, error) {
	var s OutboxStatus
	row := db.WithContext(ctx).Raw(`SELECT
	count(*) FILTER (WHERE enqueued_at IS NOT NULL),
	count(*) FILTER (WHERE enqueued_at IS NULL),
	count(*) FILTER (WHERE enqueued_at IS NULL AND attempts > 0),
	min(created_at) FILTER (WHERE enqueued_at IS NULL)
FROM lighthouse526_notification_outbox`).Row()
	if err := row.Scan(&s.Sent, &s.Unsent, &s.Failing, &s.OldestUnsent); err != nil {
		return OutboxStatus{}, fmt.Errorf("models: read outbox: %w", err)
	}
	if s.Unsent > 0 && limit > 0 {
		if err := db.WithContext(ctx).Where("enqueued_at IS NULL").Order("created_at, id").Limit(limit).Find(&s.Entries).Error; err != nil {
			return OutboxStatus{}, fmt.Errorf("models: read outbox: %w", err)
		}
	}
	return s, nil
}
