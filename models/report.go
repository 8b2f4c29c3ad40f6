package models

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// UploadsByRequestID returns every upload with a Lighthouse request id, in id
// order (the original table does not make the id unique).
func UploadsByRequestID(ctx context.Context, db *gorm.DB, requestID string) ([]Lighthouse526DocumentUpload, error) {
	var out []Lighthouse526DocumentUpload
	if err := db.WithContext(ctx).Where("lighthouse_document_request_id = ?", requestID).Order("id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("models: uploads by request id: %w", err)
	}
	return out, nil
}

// Timeline is the readable form of a stored Lighthouse status object.
type Timeline struct {
	Status    string         `json:"status"`
	StartedAt *time.Time     `json:"started_at,omitempty"`
	EndedAt   *time.Time     `json:"ended_at,omitempty"`
	Steps     []TimelineStep `json:"steps"`
	Error     *TimelineError `json:"error,omitempty"`
}

// TimelineStep is one workflow step.
type TimelineStep struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// TimelineError is the status's error object.
type TimelineError struct {
	Detail string `json:"detail"`
	Step   string `json:"step"`
}

// ParseTimeline reads last_status_response; nil when none was stored.
func ParseTimeline(last JSON) (*Timeline, error) {
	if len(last) == 0 || string(last) == "null" {
		return nil, nil
	}
	var raw struct {
		Status string `json:"status"`
		Time   struct {
			StartTime *int64 `json:"startTime"`
			EndTime   *int64 `json:"endTime"`
		} `json:"time"`
		Steps []TimelineStep `json:"steps"`
		Error *TimelineError `json:"error"`
	}
	if err := json.Unmarshal(last, &raw); err != nil {
		return nil, fmt.Errorf("models: last_status_response: %w", err)
	}
	ms := func(v *int64) *time.Time {
		if v == nil {
			return nil
		}
		t := time.UnixMilli(*v).UTC()
		return &t
	}
	return &Timeline{Status: raw.Status, StartedAt: ms(raw.Time.StartTime), EndedAt: ms(raw.Time.EndTime), Steps: raw.Steps, Error: raw.Error}, nil
}

// StuckUpload is a pending upload that needs a look.
type StuckUpload struct {
	ID                          int64      `json:"id"`
	Form526SubmissionID         int64      `json:"form526_submission_id"`
	LighthouseDocumentRequestID string     `json:"lighthouse_document_request_id"`
	DocumentType                string     `json:"document_type"` // "" when NULL
	CreatedAt                   time.Time  `json:"created_at"`
	StatusLastPolledAt          *time.Time `json:"status_last_polled_at"`
	// LighthouseUnknownPollCount is the worker's own count (its upload poll
	// state), under the name operators know.
	LighthouseUnknownPollCount int `json:"lighthouse_unknown_poll_count"`
	// NextPollAt is when the adaptive schedule polls it next (the end of a
	// cycle's lease while a batch holds it); nil under the fixed strategy,
	// or before its first poll under the adaptive one.
	NextPollAt *time.Time `json:"next_poll_at,omitempty"`
	// Reason: pending_too_long, unknown_to_lighthouse, quarantined,
	// time_in_future (created_at or status_last_polled_at more than
	// FutureSkew ahead: a clock or a row to fix), or several joined by ",".
	Reason string `json:"reason"`
	// The quarantine, when the upload is left out of polling.
	QuarantinedAt    *time.Time `json:"quarantined_at,omitempty"`
	QuarantineReason *string    `json:"quarantine_reason,omitempty"`
	QuarantineDetail *string    `json:"quarantine_detail,omitempty"`
}

// StuckUploads lists pending uploads that are quarantined, created before
// createdBefore, that Lighthouse answered as unknown at least unknownPolls
// polls in a row, or whose created_at or status_last_polled_at is more than
// FutureSkew after now: quarantined ones first (each needs an operator to
// fix its row), then by id, at most limit.
func StuckUploads(ctx context.Context, db *gorm.DB, now, createdBefore time.Time, unknownPolls, limit int) ([]StuckUpload, error) {
	var out []StuckUpload
	err := db.WithContext(ctx).Raw(`
SELECT u.id, u.form526_submission_id, u.lighthouse_document_request_id,
       coalesce(u.document_type, '') AS document_type, u.created_at,
       u.status_last_polled_at, coalesce(ps.unknown_poll_count, 0) AS lighthouse_unknown_poll_count,
       ps.next_poll_at,
       concat_ws(',',
         CASE WHEN ps.quarantined_at IS NOT NULL THEN 'quarantined' END,
         CASE WHEN u.created_at < @before THEN 'pending_too_long' END,
         CASE WHEN ps.unknown_poll_count >= @unknown THEN 'unknown_to_lighthouse' END,
         CASE WHEN u.created_at > @future OR u.status_last_polled_at > @future THEN 'time_in_future' END) AS reason,
       ps.quarantined_at, ps.quarantine_reason, ps.quarantine_detail
  FROM lighthouse526_document_uploads u
  LEFT JOIN lighthouse526_upload_poll_states ps ON ps.upload_id = u.id
 WHERE u.aasm_state = @pending
   AND (u.created_at < @before OR ps.unknown_poll_count >= @unknown OR ps.quarantined_at IS NOT NULL
        OR u.created_at > @future OR u.status_last_polled_at > @future)
 ORDER BY ps.quarantined_at IS NULL, u.id
 LIMIT @limit`, map[string]any{
		"before": createdBefore.UTC(), "future": now.UTC().Add(FutureSkew), "unknown": unknownPolls, "pending": StatePending, "limit": limit,
	}).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: stuck uploads: %w", err)
	}
	return out, nil
}

// StateCount is how many uploads of a type are in a state; FailedStep is set
// for failed ones (lower case, "" when none was recorded).
type StateCount struct {
	DocumentType string `json:"document_type"`
	AasmState    string `json:"aasm_state"`
	FailedStep   string `json:"failed_step,omitempty"`
	Count        int64  `json:"count"`
}

// CountByState counts every upload by type, state and failed step.
func CountByState(ctx context.Context, db *gorm.DB) ([]StateCount, error) {
	var out []StateCount
	err := db.WithContext(ctx).Raw(`
SELECT document_type, aasm_state,
       CASE WHEN aasm_state = ? THEN coalesce(lower(error_message->>'step'), '') ELSE '' END AS failed_step,
       count(*) AS count
  FROM lighthouse526_document_uploads
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3`, StateFailed).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: count by state: %w", err)
	}
	return out, nil
}

// ProcessingTime is how long Lighthouse took over one finished upload, and
// whether it failed: what `worker simulate --fit-from-db` fits (durations
// and states only, never an identifier).
type ProcessingTime struct {
	Duration time.Duration
	Failed   bool
}

// ProcessingTimes reads the processing times (lighthouse_processing_ended_at
// − lighthouse_processing_started_at) of the completed and failed uploads
// that have both, shortest first.
func ProcessingTimes(ctx context.Context, db *gorm.DB) ([]ProcessingTime, error) {
	var rows []struct {
		Seconds float64
		Failed  bool
	}
	err := db.WithContext(ctx).Raw(`
SELECT EXTRACT(EPOCH FROM lighthouse_processing_ended_at - lighthouse_processing_started_at)::float8 AS seconds,
       aasm_state = 'failed' AS failed
  FROM lighthouse526_document_uploads
 WHERE aasm_state IN ('completed', 'failed')
   AND lighthouse_processing_started_at IS NOT NULL
   AND lighthouse_processing_ended_at >= lighthouse_processing_started_at
 ORDER BY 1, 2`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read processing times: %w", err)
	}
	out := make([]ProcessingTime, len(rows))
	for i, r := range rows {
		out[i] = ProcessingTime{Duration: time.Duration(r.Seconds * float64(time.Second)), Failed: r.Failed}
	}
	return out, nil
}

// StuckPendingCount is how many uploads there are, and how many of them are
// still pending longer than some age after creation.
type StuckPendingCount struct {
	Total, StuckPending int64
}

// CountStuckPending counts every upload, and those still pending more than
// age after their creation.
func CountStuckPending(ctx context.Context, db *gorm.DB, age time.Duration) (StuckPendingCount, error) {
	var c StuckPendingCount
	err := db.WithContext(ctx).Raw(`
SELECT count(*) AS total,
       count(*) FILTER (WHERE aasm_state = 'pending'
                          AND created_at < (now() AT TIME ZONE 'UTC') - make_interval(secs => ?)) AS stuck_pending
  FROM lighthouse526_document_uploads`, age.Seconds()).Scan(&c).Error
	if err != nil {
		return c, fmt.Errorf("count pending uploads: %w", err)
	}
	return c, nil
}
