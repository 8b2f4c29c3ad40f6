package models

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db/pgraw"
)

// ClaimedUpload is a pending upload an adaptive cycle claimed: DueAt is
// when it fell due (its next_poll_at, or its created_at before its first
// poll under the schedule).
type ClaimedUpload struct {
	DueUpload
	DueAt time.Time
}

// adaptiveDueSQL selects (id, due_at) of every pending, not quarantined
// upload due at @now under the adaptive schedule: due at its next_poll_at
// when it has one. One without (a new upload, and every upload the day the
// strategy switches to adaptive) is due at its first poll: with firstPoll
// positive, the first multiple of firstPoll after its created_at (counted
// from 0001-01-01, as polling.Schedule.Next counts), so new uploads share
// the calls of the uploads on the ladder's first rung instead of each
// costing a call of its own; with firstPoll zero, at its created_at.
//
// Two branches, so that the scheduled ones are read in due order from the
// partial index index_lighthouse526_upload_poll_states_due (migration
// 00009), and the unscheduled ones are the pending uploads without a next
// poll time, read from the pending uploads' partial index (the grid's test
// is on created_at itself: the first multiple after created_at is at or
// before @now exactly when created_at is before @now's multiple). @limit
// bounds each branch. An upload created after @future (more than
// FutureSkew after now: a time to distrust) is due at @now, not at a first
// poll that may be years away; its schedule then counts from its first poll
// (polling.Schedule.After).
func adaptiveDueSQL(firstPoll time.Duration) string {
	firstDue, created := "u.created_at", "u.created_at <= @now"
	if firstPoll > 0 {
		bin := "make_interval(secs => " + strconv.FormatFloat(firstPoll.Seconds(), 'f', -1, 64) + ")"
		firstDue = "date_bin(" + bin + ", u.created_at, " + gridOrigin + ") + " + bin
		created = "u.created_at < date_bin(" + bin + ", CAST(@now AS timestamp), " + gridOrigin + ")"
	}
	return `
  (SELECT ps.upload_id AS id, ps.next_poll_at AS due_at
     FROM lighthouse526_upload_poll_states ps
     JOIN lighthouse526_document_uploads u ON u.id = ps.upload_id
    WHERE ps.quarantined_at IS NULL AND ps.next_poll_at <= @now AND u.aasm_state = @pending
    ORDER BY ps.next_poll_at, ps.upload_id
    LIMIT @limit)
  UNION ALL
  (SELECT u.id, CASE WHEN u.created_at > @future THEN CAST(@now AS timestamp) ELSE ` + firstDue + ` END
     FROM lighthouse526_document_uploads u
    WHERE u.aasm_state = @pending AND (` + created + ` OR u.created_at > @future)
      AND NOT EXISTS (SELECT 1 FROM lighthouse526_upload_poll_states ps
                       WHERE ps.upload_id = u.id AND (ps.next_poll_at IS NOT NULL OR ps.quarantined_at IS NOT NULL))
    ORDER BY 2, 1
    LIMIT @limit)`
}

// gridOrigin is Go's zero time, from which time.Truncate counts multiples.
const gridOrigin = "TIMESTAMP '0001-01-01 00:00:00'"

// ClaimDue claims up to limit uploads due at now under the adaptive
// schedule, the most overdue first, then by id (polling.Due's order), and
// returns them in that order, in ONE statement: the same statement sets
// each one's next_poll_at to leaseUntil, so that no other cycle claims it
// while the batch holding it is queued and polled. The batch's write then
// sets the schedule's next time; if the batch never writes (a crash, a
// failed call), the upload falls due again when the lease ends.
//
// Two cycles claiming at once never both get an upload: the lease is an
// upsert whose update applies only while the row's next_poll_at is still
// due (or NULL) and it is not quarantined, and Postgres checks that against
// the row as the other claim committed it (the second claim waits for the
// first's row lock, or its insert), so the second claim leaves the upload
// out of what it returns. Rows are locked in id order, as the batch write
// locks them.
func ClaimDue(ctx context.Context, db *gorm.DB, now, leaseUntil time.Time, firstPoll time.Duration, limit int) ([]ClaimedUpload, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, err := pgraw.Rows(ctx, db, limit, `
WITH due AS (
  SELECT d.id, d.due_at FROM (`+adaptiveDueSQL(firstPoll)+`) d
   ORDER BY d.due_at, d.id
   LIMIT @limit
), leased AS (
  INSERT INTO lighthouse526_upload_poll_states AS s (upload_id, next_poll_at, created_at, updated_at)
  SELECT due.id, @lease_until, @now, @now FROM due ORDER BY due.id
  ON CONFLICT (upload_id) DO UPDATE SET next_poll_at = EXCLUDED.next_poll_at, updated_at = EXCLUDED.updated_at
   WHERE s.quarantined_at IS NULL AND (s.next_poll_at IS NULL OR s.next_poll_at <= @now)
  RETURNING s.upload_id
)
SELECT u.id, u.lighthouse_document_request_id, due.due_at
  FROM due
  JOIN leased ON leased.upload_id = due.id
  JOIN lighthouse526_document_uploads u ON u.id = due.id
 ORDER BY due.due_at, due.id`, scanClaimedUpload, map[string]any{
		"now": now.UTC(), "future": now.UTC().Add(FutureSkew), "lease_until": leaseUntil.UTC(), "pending": StatePending, "limit": limit,
	})
	if err != nil {
		return nil, fmt.Errorf("models: claim due uploads: %w", err)
	}
	return out, nil
}

func scanClaimedUpload(rows *sql.Rows, u *ClaimedUpload) error {
	return rows.Scan(&u.ID, &u.LighthouseDocumentRequestID, &u.DueAt)
}

// NextDueAdaptive returns up to limit uploads with id > afterID that are due
// at now under the adaptive schedule, in id order, claiming nothing: one
// page of `worker poll --dry-run`'s walk of what a cycle would claim.
func NextDueAdaptive(ctx context.Context, db *gorm.DB, afterID int64, now time.Time, firstPoll time.Duration, limit int) ([]DueUpload, error) {
	out, err := pgraw.Rows(ctx, db, limit, `
SELECT u.id, u.lighthouse_document_request_id
  FROM lighthouse526_document_uploads u
 WHERE u.id IN (SELECT d.id FROM (`+adaptiveDueSQL(firstPoll)+`) d WHERE d.id > @after)
 ORDER BY u.id
 LIMIT @page`, scanDueUpload, map[string]any{
		// Each branch unbounded: the page is taken by id, not due order.
		"now": now.UTC(), "future": now.UTC().Add(FutureSkew), "pending": StatePending, "limit": nil, "after": afterID, "page": limit,
	})
	if err != nil {
		return nil, fmt.Errorf("models: select due uploads: %w", err)
	}
	return out, nil
}

// CountDue is how many uploads are due at now under the adaptive schedule,
// counting no further than limit: what a cycle that reached its share of
// the rate budget left for the next. The limit keeps a backlog's count (a
// cycle asks every minute while there is one) to a bounded read.
func CountDue(ctx context.Context, db *gorm.DB, now time.Time, firstPoll time.Duration, limit int) (int, error) {
	var n int
	err := db.WithContext(ctx).Raw(`SELECT count(*) FROM (SELECT 1 FROM (`+adaptiveDueSQL(firstPoll)+`) d LIMIT @limit) c`,
		map[string]any{"now": now.UTC(), "future": now.UTC().Add(FutureSkew), "pending": StatePending, "limit": limit}).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("models: count due uploads: %w", err)
	}
	return n, nil
}
