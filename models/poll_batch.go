package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// PendingUpload is what applying a status needs to know of a pending upload.
type PendingUpload struct {
	ID                            int64
	Form526SubmissionID           int64
	FormAttachmentID              *int64
	FormAttachmentGUID            *string
	UserUUID                      *string
	LighthouseDocumentRequestID   string
	DocumentType                  string
	LighthouseProcessingStartedAt *time.Time
	LastStatusResponse            JSON
	LighthouseUnknownPollCount    int
}

// LoadPending returns the pending uploads with these Lighthouse request ids,
// in id order: one statement. Only the uploads whose request ids are in
// enrich (those Lighthouse answered FAILED) get the attachment guid and user
// uuid that failure follow-ups need: two lookups per failure instead of two
// per upload.
func LoadPending(ctx context.Context, db *gorm.DB, requestIDs, enrich []string) ([]PendingUpload, error) {
	if len(requestIDs) == 0 {
		return nil, nil
	}
	var out []PendingUpload
	err := db.WithContext(ctx).Raw(`
SELECT u.id, u.form526_submission_id, u.form_attachment_id,
       CASE WHEN u.lighthouse_document_request_id = ANY(CAST(@enrich AS text[]))
            THEN (SELECT fa.guid::text FROM form_attachments fa WHERE fa.id = u.form_attachment_id) END AS form_attachment_guid,
       CASE WHEN u.lighthouse_document_request_id = ANY(CAST(@enrich AS text[]))
            THEN (SELECT s.user_uuid FROM form526_submissions s WHERE s.id = u.form526_submission_id) END AS user_uuid,
       u.lighthouse_document_request_id, u.document_type,
       u.lighthouse_processing_started_at, u.last_status_response, u.lighthouse_unknown_poll_count
  FROM lighthouse526_document_uploads u
 WHERE u.lighthouse_document_request_id = ANY(CAST(@ids AS text[])) AND u.aasm_state = @pending
 ORDER BY u.id`, map[string]any{"ids": textArray(requestIDs), "enrich": textArray(enrich), "pending": StatePending}).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: load pending uploads: %w", err)
	}
	return out, nil
}

// PollResult is the decided outcome of polling one pending upload. The caller
// decides; ApplyPollResults writes every result of a batch in one statement.
type PollResult struct {
	ID       int64  `json:"id"`
	NewState string `json:"new_state"` // StatePending, StateCompleted or StateFailed
	// SaveStatus: write started_at, ended_at and last_status_response.
	SaveStatus         bool       `json:"save_status"`
	StartedAt          *time.Time `json:"started_at"`
	EndedAt            *time.Time `json:"ended_at"`
	ErrorMessage       JSON       `json:"error_message"`
	LastStatusResponse JSON       `json:"last_status_response"`
	// Unknown: Lighthouse did not know the request id this time.
	Unknown bool `json:"unknown"`
	// Notification, when set, is written to the outbox if and only if this
	// upload transitions to failed in this statement.
	Notification *Notification `json:"-"`
}

// Notification is a follow-up task to enqueue once the transition commits.
type Notification struct {
	TaskType string
	Payload  JSON
}

// Transitioned is an upload that left pending in ApplyPollResults.
type Transitioned struct {
	ID        int64
	AasmState string
}

type pollRow struct {
	PollResult
	NotificationType    *string `json:"notification_type"`
	NotificationPayload JSON    `json:"notification_payload"`
}

// ApplyPollResults writes a batch of poll results in ONE statement, whatever
// the batch size:
//   - every upload still pending gets status_last_polled_at = now and its
//     unknown-poll counter (incremented when unknown, reset otherwise);
//   - SaveStatus results get their times and last status; a transition to
//     completed or failed happens only if the upload is still pending and the
//     state machine's guards hold (ended-at; and error_message for failed), so
//     of two racing writers exactly one transitions;
//   - a failure's notification goes to the outbox in the same statement;
//   - the cycle's counters (when cycleID is set) add what this batch did.
//
// It returns the uploads that transitioned. Results for uploads that are no
// longer pending change nothing.
func ApplyPollResults(ctx context.Context, db *gorm.DB, cycleID string, results []PollResult, now time.Time) ([]Transitioned, error) {
	if len(results) == 0 && cycleID == "" {
		return nil, nil
	}
	// An empty batch of a cycle still runs: the batch is done, and its
	// cycle must count it or it looks in flight until it goes stale.
	rows := make([]pollRow, len(results))
	for i, r := range results {
		// The statement casts the JSON times to timestamp without time zone,
		// which drops any offset: send them in UTC, whatever their location.
		r.StartedAt, r.EndedAt = utc(r.StartedAt), utc(r.EndedAt)
		rows[i].PollResult = r
		if r.Notification != nil {
			rows[i].NotificationType = &r.Notification.TaskType
			rows[i].NotificationPayload = r.Notification.Payload
		}
	}
	doc, err := marshalPollRows(rows)
	if err != nil {
		return nil, fmt.Errorf("models: encode poll results: %w", err)
	}
	now = now.UTC()
	var out []Transitioned
	err = db.WithContext(ctx).Raw(applyPollResultsSQL, map[string]any{
		// The bytes go to pgx as they are (its jsonb codec sends raw JSON):
		// a string would copy a thousand statuses once more.
		"rows":      rawJSON(doc),
		"now":       now,
		"pending":   StatePending,
		"completed": StateCompleted,
		"failed":    StateFailed,
		"cycle":     cycleID,
	}).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("models: apply poll results: %w", err)
	}
	return out, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

const applyPollResultsSQL = `
WITH v AS (
  SELECT * FROM jsonb_to_recordset(CAST(@rows AS jsonb)) AS v(
    id bigint, new_state varchar, save_status boolean,
    started_at timestamp, ended_at timestamp, error_message jsonb, last_status_response jsonb,
    unknown boolean, notification_type varchar, notification_payload jsonb)
), upd AS (
  UPDATE lighthouse526_document_uploads u SET
    aasm_state = CASE
      WHEN v.new_state = @completed AND v.ended_at IS NOT NULL THEN @completed
      WHEN v.new_state = @failed AND v.ended_at IS NOT NULL
           AND v.error_message IS NOT NULL AND v.error_message <> 'null'::jsonb THEN @failed
      ELSE u.aasm_state END,
    lighthouse_processing_started_at = CASE WHEN v.save_status THEN v.started_at ELSE u.lighthouse_processing_started_at END,
    lighthouse_processing_ended_at = CASE WHEN v.save_status THEN v.ended_at ELSE u.lighthouse_processing_ended_at END,
    error_message = CASE WHEN v.new_state = @failed AND v.save_status THEN v.error_message ELSE u.error_message END,
    last_status_response = CASE WHEN v.save_status THEN v.last_status_response ELSE u.last_status_response END,
    lighthouse_unknown_poll_count = CASE WHEN v.unknown THEN u.lighthouse_unknown_poll_count + 1 ELSE 0 END,
    status_last_polled_at = @now,
    updated_at = @now
  FROM v
  WHERE u.id = v.id AND u.aasm_state = @pending
  RETURNING u.id, u.aasm_state
), outbox AS (
  INSERT INTO lighthouse526_notification_outbox (upload_id, task_type, payload, created_at)
  SELECT v.id, v.notification_type, v.notification_payload, @now
    FROM v JOIN upd ON upd.id = v.id
   WHERE upd.aasm_state = @failed AND v.notification_type IS NOT NULL
  ON CONFLICT (upload_id) DO NOTHING
), cycle AS (
  UPDATE lighthouse526_polling_cycles SET
    batches_done = batches_done + 1,
    documents_polled = documents_polled + (SELECT count(*) FROM upd),
    completed_count = completed_count + (SELECT count(*) FROM upd WHERE aasm_state = @completed),
    failed_count = failed_count + (SELECT count(*) FROM upd WHERE aasm_state = @failed),
    unknown_count = unknown_count + (SELECT count(*) FROM v WHERE v.unknown),
    updated_at = @now
  WHERE id = @cycle
)
SELECT id, aasm_state FROM upd WHERE aasm_state <> @pending`
