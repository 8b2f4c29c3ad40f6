package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// PollingCycle is one polling run: a cron tick or an ad hoc poll.
type PollingCycle struct {
	ID              string `gorm:"primaryKey"`
	ScheduledAt     time.Time
	DueBefore       time.Time
	CursorUploadID  int64
	BatchesEnqueued int
	BatchesDone     int
	DocumentsDue    int
	DocumentsPolled int
	CompletedCount  int
	FailedCount     int
	UnknownCount    int
	FanOutDoneAt    *time.Time
	// Skipped: a cron cycle that did not fan out because an earlier one was
	// still running.
	Skipped   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName is this worker's own table.
func (PollingCycle) TableName() string { return "lighthouse526_polling_cycles" }

// Done reports whether the cycle is finished: its fan-out is done and every
// batch it handed on has finished. cycleDoneSQL is the same test in SQL.
func (c *PollingCycle) Done() bool {
	return c.FanOutDoneAt != nil && c.BatchesDone >= c.BatchesEnqueued
}

// cycleDoneSQL is Done for statements that test it in the database.
const cycleDoneSQL = "fan_out_done_at IS NOT NULL AND batches_done >= batches_enqueued"

// StartCycle creates the cycle row, or returns the existing one when a retry
// of the same cycle starts again (its cursor says where the fan-out got to).
func StartCycle(ctx context.Context, db *gorm.DB, id string, scheduledAt, dueBefore, now time.Time) (*PollingCycle, error) {
	c := PollingCycle{ID: id, ScheduledAt: scheduledAt.UTC(), DueBefore: dueBefore.UTC(), CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&c).Error; err != nil {
		return nil, fmt.Errorf("models: start cycle: %w", err)
	}
	var got PollingCycle
	if err := db.WithContext(ctx).Take(&got, "id = ?", id).Error; err != nil {
		return nil, fmt.Errorf("models: load cycle: %w", err)
	}
	return &got, nil
}

// AdvanceCycle records batches enqueued batches of documents uploads: the
// cursor moves past the last one, lastID. The WHERE on the old batch count
// makes a stale writer a no-op.
//
// Its commit does not wait for the WAL to reach disk (synchronous_commit off
// for this one statement): a record lost in a database crash is a batch
// handed on again under the same task id, which the queue refuses, and the
// next synchronous commit (any batch's write) flushes it anyway. Waiting for
// the flush would be most of the cost of a fan-out in batches of 100.
func AdvanceCycle(ctx context.Context, db *gorm.DB, c *PollingCycle, lastID int64, batches, documents int, now time.Time) error {
	res := db.WithContext(ctx).Exec(`
WITH durability AS (SELECT set_config('synchronous_commit', 'off', true))
UPDATE lighthouse526_polling_cycles
   SET cursor_upload_id = ?, batches_enqueued = batches_enqueued + ?,
       documents_due = documents_due + ?, updated_at = ?
  FROM durability
 WHERE id = ? AND batches_enqueued = ?`,
		lastID, batches, documents, now.UTC(), c.ID, c.BatchesEnqueued)
	if res.Error != nil {
		return fmt.Errorf("models: advance cycle: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("models: advance cycle %s: %w", c.ID, ErrConcurrentCycle)
	}
	c.CursorUploadID = lastID
	c.BatchesEnqueued += batches
	c.DocumentsDue += documents
	return nil
}

// ErrConcurrentCycle is returned by AdvanceCycle when another process
// advanced the same cycle first.
var ErrConcurrentCycle = errors.New("cycle advanced by another process")

// FinishFanOut marks the cycle's fan-out complete.
func FinishFanOut(ctx context.Context, db *gorm.DB, c *PollingCycle, now time.Time) error {
	t := now.UTC()
	err := db.WithContext(ctx).Model(&PollingCycle{}).Where("id = ?", c.ID).
		Updates(map[string]any{"fan_out_done_at": t, "updated_at": t}).Error
	if err != nil {
		return fmt.Errorf("models: finish cycle: %w", err)
	}
	c.FanOutDoneAt = &t
	return nil
}

// MarkBatchDone counts a batch that ended without applying (exhausted or
// archived), so its cycle is not taken as running forever.
func MarkBatchDone(ctx context.Context, db *gorm.DB, cycleID string, now time.Time) error {
	return db.WithContext(ctx).Model(&PollingCycle{}).Where("id = ?", cycleID).
		Updates(map[string]any{"batches_done": gorm.Expr("batches_done + 1"), "updated_at": now.UTC()}).Error
}

// SkipCycle marks a cycle skipped and finished.
func SkipCycle(ctx context.Context, db *gorm.DB, c *PollingCycle, now time.Time) error {
	t := now.UTC()
	err := db.WithContext(ctx).Model(&PollingCycle{}).Where("id = ?", c.ID).
		Updates(map[string]any{"skipped": true, "fan_out_done_at": t, "updated_at": t}).Error
	if err != nil {
		return fmt.Errorf("models: skip cycle: %w", err)
	}
	c.Skipped, c.FanOutDoneAt = true, &t
	return nil
}

// ClaimCycle decides, under a Postgres advisory lock shared by every replica,
// whether cycle c may fan out: it may unless another cycle with the same id
// prefix is in flight (fan-out not finished or batches not all done, and not
// stale). When another is, c is marked skipped and that one is returned.
// Serialising the check means that of two cycles starting together (a
// catch-up and a tick on two replicas) exactly one fans out.
func ClaimCycle(ctx context.Context, db *gorm.DB, c *PollingCycle, prefix string, now time.Time, stale time.Duration) (*PollingCycle, error) {
	var running *PollingCycle
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(hashtext(?))", "lighthouse526:cycle-claim:"+prefix).Error; err != nil {
			return err
		}
		var other PollingCycle
		err := tx.Where("id LIKE ? AND id <> ? AND NOT skipped AND updated_at > ?", prefix+"%", c.ID, now.Add(-stale).UTC()).
			Where("fan_out_done_at IS NULL OR batches_done < batches_enqueued").
			Order("scheduled_at DESC").Take(&other).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		running = &other
		return SkipCycle(ctx, tx, c, now)
	})
	if err != nil {
		return nil, fmt.Errorf("models: claim cycle: %w", err)
	}
	return running, nil
}

// PreviousCycle returns the latest cycle scheduled before t whose id starts
// with prefix and that was not skipped, or nil.
func PreviousCycle(ctx context.Context, db *gorm.DB, prefix string, t time.Time) (*PollingCycle, error) {
	var c PollingCycle
	err := db.WithContext(ctx).
		Where("id LIKE ? AND scheduled_at < ? AND NOT skipped", prefix+"%", t.UTC()).
		Order("scheduled_at DESC").Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("models: previous cycle: %w", err)
	}
	return &c, nil
}

// PruneCycles deletes the cycles scheduled before before, and returns how
// many: a cron cycle a minute is 1440 rows a day. One statement over the
// scheduled_at index, deleting the few rows that aged out since the last
// call.
func PruneCycles(ctx context.Context, db *gorm.DB, before time.Time) (int64, error) {
	res := db.WithContext(ctx).Exec(`DELETE FROM lighthouse526_polling_cycles WHERE scheduled_at < ?`, before.UTC())
	if res.Error != nil {
		return 0, fmt.Errorf("models: prune cycles: %w", res.Error)
	}
	return res.RowsAffected, nil
}
