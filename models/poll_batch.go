package models

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db/pgraw"
	"github.com/vagov/lighthouse526/lighthouse/answer"
)

// PollResult is the decided outcome of polling one pending upload. The caller
// decides; WriteBatch writes every result of a batch in one statement.
type PollResult struct {
	ID       int64
	NewState string // StatePending, StateCompleted or StateFailed
	// SaveStatus: write started_at, ended_at and last_status_response.
	SaveStatus         bool
	StartedAt          *time.Time
	EndedAt            *time.Time
	ErrorMessage       JSON
	LastStatusResponse JSON
	// Unknown: Lighthouse did not know the request id this time.
	Unknown bool
	// Notification, when set, is written to the outbox if and only if this
	// upload transitions to failed in this statement.
	Notification *Notification
	// Schedule, when set (POLL_STRATEGY=adaptive), is written to the
	// upload's own state if it is still pending after this statement.
	Schedule *PollSchedule
}

// PollSchedule is the adaptive schedule's step after a poll: when to poll
// the upload next, and what it remembers of the status it found (see
// polling.Schedule.After).
type PollSchedule struct {
	NextPollAt      time.Time
	StatusDigest    int64 // the digest's 64 bits, as Postgres's bigint holds them
	StatusChangedAt time.Time
}

// Notification is a follow-up task to enqueue once the transition commits.
type Notification struct {
	TaskType string
	Payload  JSON
}

// Transitioned is an upload that left pending in WriteBatch.
type Transitioned struct {
	ID        int64
	AasmState string
}

// BatchWrite is everything one batch writes, in one statement.
type BatchWrite struct {
	// CycleID, when set, is the cycle whose counters add what the batch did
	// (an empty batch of a cycle still counts as done).
	CycleID string
	// Source is the body of the Lighthouse answer the results' last statuses
	// were sliced from, or nil (see WriteBatch).
	Source  answer.Body
	Results []PollResult
	// Quarantines are uploads found unpollable: each still pending and not
	// yet quarantined is quarantined.
	Quarantines []Quarantine
}

// BatchWritten is what a batch's statement did.
type BatchWritten struct {
	Transitioned []Transitioned
	// Quarantined are the quarantines that took effect now (not those of
	// uploads already quarantined or no longer pending).
	Quarantined []Quarantine
}

// quarantinedMark is the state column of a row the statement returns for a
// quarantine (the others are transitions).
const quarantinedMark = "quarantined"

// WriteBatch writes a batch of poll results, and quarantines the batch's
// unpollable uploads, in ONE statement, whatever the batch size (a batch
// with a bad row costs no statement more than one without):
//   - every upload still pending gets status_last_polled_at = now and its
//     unknown-poll count (incremented when unknown, reset otherwise), kept
//     in the worker's own lighthouse526_upload_poll_states: a row is written
//     only for an upload that is unknown now or had a count, or that has a
//     Schedule, so under POLL_STRATEGY=fixed (no Schedule) a cycle of a
//     million known uploads writes no row there;
//   - a result with a Schedule whose upload is still pending after the write
//     gets its next_poll_at, status_digest and status_changed_at there;
//   - SaveStatus results get their times and last status; a transition to
//     completed or failed happens only if the upload is still pending and the
//     state machine's guards hold (ended-at; and error_message for failed), so
//     of two racing writers exactly one transitions;
//   - a failure's notification goes to the outbox in the same statement;
//   - the cycle's counters (when cycleID is set) add what this batch did.
//
// It returns the uploads that transitioned and the quarantines that took
// effect. Results for uploads that are no longer pending change nothing.
//
// When every result's last status was sliced from b.Source, the body of the
// Lighthouse answer they came from, and they are most of it, the body itself
// is sent as the statement's statuses, with each status's place in it,
// instead of a copy of them all. Otherwise (no Source, a status from
// elsewhere, or few statuses to save) they are copied. The copy would be as
// large as the statuses, allocated while the body it copies is still live; a
// worker's peak heap is set by what is live, and allocated, when a garbage
// collection runs.
func WriteBatch(ctx context.Context, db *gorm.DB, b BatchWrite, now time.Time) (BatchWritten, error) {
	results, cycleID, source := b.Results, b.CycleID, b.Source
	if len(results) == 0 && cycleID == "" && len(b.Quarantines) == 0 {
		return BatchWritten{}, nil
	}
	// An empty batch of a cycle still runs: the batch is done, and its
	// cycle must count it or it looks in flight until it goes stale.
	n := len(results)
	var (
		ids          = make([]int64, n)
		states       = make([]string, n)
		saveStatus   = make([]bool, n)
		started      = make([]pgtype.Timestamp, n)
		ended        = make([]pgtype.Timestamp, n)
		errorMsgs    = make([][]byte, n)
		statusAt     = make([]int32, n) // where each last status starts in statuses (1-based)
		statusLen    = make([]int32, n) // and its length; 0: none
		unknown      = make([]bool, n)
		notifyTypes  = make([]*string, n)
		notifyBodies = make([][]byte, n)
	)
	nextPoll, changedAt, digests := scheduleColumns(results)
	size := statusesSize(results)
	statuses, shared := source, sendsSource(source, results, size)
	if !shared {
		statuses = make([]byte, 0, size)
	}
	for i := range results {
		r := &results[i]
		ids[i], states[i], saveStatus[i], unknown[i] = r.ID, r.NewState, r.SaveStatus, r.Unknown
		started[i], ended[i] = timestamp(r.StartedAt), timestamp(r.EndedAt)
		errorMsgs[i] = jsonText(r.ErrorMessage)
		if st := jsonText(r.LastStatusResponse); st != nil {
			at := len(statuses)
			if shared {
				at, _ = source.Offset(st)
			} else {
				statuses = append(statuses, st...)
			}
			statusAt[i], statusLen[i] = int32(at+1), int32(len(st))
		}
		if r.Notification != nil {
			notifyTypes[i], notifyBodies[i] = &r.Notification.TaskType, jsonText(r.Notification.Payload)
		}
	}
	qIDs, qReasons, qDetails := quarantineColumns(b.Quarantines)
	// The arrays take about 100 bytes a result in binary, with the error
	// messages and notifications.
	rows, err := pgraw.ExecPrepared(ctx, db, applyPollResultsStatement, 1024+128*n+64*len(qIDs)+40*len(nextPoll), statuses,
		now.UTC(), StatePending, StateCompleted, StateFailed, cycleID,
		pgraw.ArrayOf(ids), pgraw.ArrayOf(states), pgraw.ArrayOf(saveStatus), pgraw.ArrayOf(started), pgraw.ArrayOf(ended),
		pgraw.ArrayOf(errorMsgs), pgraw.ArrayOf(statusAt), pgraw.ArrayOf(statusLen), pgraw.ArrayOf(unknown),
		pgraw.ArrayOf(notifyTypes), pgraw.ArrayOf(notifyBodies),
		pgraw.ArrayOf(qIDs), pgraw.ArrayOf(qReasons), pgraw.ArrayOf(qDetails),
		pgraw.ArrayOf(nextPoll), pgraw.ArrayOf(changedAt), pgraw.ArrayOf(digests))
	if err != nil {
		return BatchWritten{}, fmt.Errorf("models: apply poll results: %w", err)
	}
	return writtenRows(rows, b.Quarantines)
}

// scheduleColumns are the statement's arrays of the results' schedules: nil
// (NULL arrays, nothing to write) when no result has one, as under
// POLL_STRATEGY=fixed; a result without one has NULLs.
func scheduleColumns(results []PollResult) (nextPoll, changedAt []pgtype.Timestamp, digests []*int64) {
	if !slices.ContainsFunc(results, func(r PollResult) bool { return r.Schedule != nil }) {
		return nil, nil, nil
	}
	nextPoll = make([]pgtype.Timestamp, len(results))
	changedAt = make([]pgtype.Timestamp, len(results))
	digests = make([]*int64, len(results))
	for i := range results {
		if s := results[i].Schedule; s != nil {
			nextPoll[i], changedAt[i] = timestamp(&s.NextPollAt), timestamp(&s.StatusChangedAt)
			digests[i] = &s.StatusDigest
		}
	}
	return nextPoll, changedAt, digests
}

// quarantineColumns are the statement's arrays of quarantines, each upload
// once (a statement may not quarantine one row twice): its first reason wins.
func quarantineColumns(qs []Quarantine) (ids []int64, reasons, details []string) {
	seen := make(map[int64]bool, len(qs))
	for _, q := range qs {
		if seen[q.UploadID] {
			continue
		}
		seen[q.UploadID] = true
		ids, reasons, details = append(ids, q.UploadID), append(reasons, q.Reason), append(details, q.Detail)
	}
	return ids, reasons, details
}

// writtenRows reads the statement's rows: (id, new state) per transition,
// (id, "quarantined") per quarantine that took effect.
func writtenRows(rows [][][]byte, qs []Quarantine) (BatchWritten, error) {
	var out BatchWritten
	quarantined := map[int64]bool{}
	for _, row := range rows {
		if len(row) != 2 {
			return BatchWritten{}, fmt.Errorf("models: apply poll results: a row of %d columns", len(row))
		}
		id, err := strconv.ParseInt(string(row[0]), 10, 64)
		if err != nil {
			return BatchWritten{}, fmt.Errorf("models: apply poll results: id %q: %w", row[0], err)
		}
		if string(row[1]) == quarantinedMark {
			quarantined[id] = true
			continue
		}
		out.Transitioned = append(out.Transitioned, Transitioned{ID: id, AasmState: string(row[1])})
	}
	for _, q := range qs {
		if quarantined[q.UploadID] {
			out.Quarantined = append(out.Quarantined, q)
			delete(quarantined, q.UploadID)
		}
	}
	return out, nil
}

// sendsSource reports whether source can go as the statuses: every last
// status to save is a slice of it, and they, size bytes in all, are most of
// it (a batch that saves few, say one polled again while in progress, sends
// those few).
func sendsSource(source answer.Body, results []PollResult, size int) bool {
	if size <= len(source)/2 {
		return false
	}
	for i := range results {
		if st := jsonText(results[i].LastStatusResponse); st != nil {
			if _, ok := source.Offset(st); !ok {
				return false
			}
		}
	}
	return true
}

// statusesSize is the length of every result's last status together.
func statusesSize(results []PollResult) int {
	size := 0
	for i := range results {
		size += len(jsonText(results[i].LastStatusResponse))
	}
	return size
}

// timestamp is t for a timestamp without time zone column, or NULL: pgx
// sends a time's own clock reading, so it goes in UTC, whatever its location.
func timestamp(t *time.Time) pgtype.Timestamp {
	if t == nil {
		return pgtype.Timestamp{}
	}
	return pgtype.Timestamp{Time: t.UTC(), Valid: true}
}

// jsonText is a JSON value for the statement to cast to jsonb, or nil (NULL)
// when empty or null.
func jsonText(j JSON) []byte {
	if len(j) == 0 || string(j) == "null" {
		return nil
	}
	return j
}

// applyPollResultsStatement is prepared once per connection (pgraw.ExecPrepared).
// Its parameters: $1 now, $2-$4 the states pending, completed and failed,
// $5 the cycle id, $6-$16 one array per result column, $17-$19 one array
// per quarantine column, $20-$22 one array per schedule column (NULL under
// POLL_STRATEGY=fixed), and last, $23, the statuses: a bytea each status is
// a substring of (status_at, status_len).
//
// states and quarantine both write lighthouse526_upload_poll_states, and
// one statement may not upsert a row twice: states leaves out an upload
// quarantined in the same batch (none is today: an unpollable upload is
// never sent to Lighthouse), and its quarantine wins.
var applyPollResultsStatement = pgraw.Statement{Name: "lighthouse526_apply_poll_results", Query: applyPollResultsSQL}

// applyPollResultsSQL: the Bind message that sends its parameters is one
// buffer, regrown as each is appended, so the statuses, the one big
// parameter, come last and are never copied again by a regrowth. Hence the
// scalars in p rather than inline, ahead of the arrays.
const applyPollResultsSQL = `
WITH p AS (
  SELECT CAST($1 AS timestamp) AS now, CAST($2 AS text) AS pending,
         CAST($3 AS text) AS completed, CAST($4 AS text) AS failed, CAST($5 AS text) AS cycle
), v AS (
  SELECT r.id, r.new_state, r.save_status, r.started_at, r.ended_at,
         CAST(r.error_message AS jsonb) AS error_message,
         r.status_at, r.status_len,
         r.unknown, r.notification_type,
         CAST(r.notification_payload AS jsonb) AS notification_payload,
         r.next_poll_at, r.status_changed_at, r.status_digest
    FROM unnest(CAST($6 AS bigint[]),
                CAST($7 AS text[]),
                CAST($8 AS boolean[]),
                CAST($9 AS timestamp[]),
                CAST($10 AS timestamp[]),
                CAST($11 AS text[]),
                CAST($12 AS integer[]),
                CAST($13 AS integer[]),
                CAST($14 AS boolean[]),
                CAST($15 AS text[]),
                CAST($16 AS text[]),
                CAST($20 AS timestamp[]),
                CAST($21 AS timestamp[]),
                CAST($22 AS bigint[]))
      AS r(id, new_state, save_status, started_at, ended_at, error_message, status_at, status_len,
           unknown, notification_type, notification_payload, next_poll_at, status_changed_at, status_digest)
), upd AS (
  UPDATE lighthouse526_document_uploads u SET
    aasm_state = CASE
      WHEN v.new_state = p.completed AND v.ended_at IS NOT NULL THEN p.completed
      WHEN v.new_state = p.failed AND v.ended_at IS NOT NULL
           AND v.error_message IS NOT NULL AND v.error_message <> 'null'::jsonb THEN p.failed
      ELSE u.aasm_state END,
    lighthouse_processing_started_at = CASE WHEN v.save_status THEN v.started_at ELSE u.lighthouse_processing_started_at END,
    lighthouse_processing_ended_at = CASE WHEN v.save_status THEN v.ended_at ELSE u.lighthouse_processing_ended_at END,
    error_message = CASE WHEN v.new_state = p.failed AND v.save_status THEN v.error_message ELSE u.error_message END,
    status_last_polled_at = p.now,
    updated_at = p.now,
    last_status_response = CASE
      WHEN NOT v.save_status THEN u.last_status_response
      WHEN v.status_len > 0 THEN CAST(convert_from(substring(CAST($23 AS bytea) FROM v.status_at FOR v.status_len), 'UTF8') AS jsonb)
      END
  FROM v, p
  WHERE u.id = v.id AND u.aasm_state = p.pending
  RETURNING u.id, u.aasm_state
), states AS (
  INSERT INTO lighthouse526_upload_poll_states AS s
         (upload_id, unknown_poll_count, next_poll_at, status_changed_at, status_digest, created_at, updated_at)
  SELECT v.id, CASE WHEN v.unknown THEN 1 ELSE 0 END,
         v.next_poll_at, v.status_changed_at, v.status_digest, p.now, p.now
    FROM v JOIN upd ON upd.id = v.id CROSS JOIN p
    LEFT JOIN lighthouse526_upload_poll_states ps ON ps.upload_id = v.id
   WHERE upd.aasm_state = p.pending
     AND (v.unknown OR ps.unknown_poll_count > 0 OR v.next_poll_at IS NOT NULL)
     AND v.id <> ALL(coalesce(CAST($17 AS bigint[]), '{}'))
  ON CONFLICT (upload_id) DO UPDATE SET
    unknown_poll_count = CASE WHEN EXCLUDED.unknown_poll_count > 0 THEN s.unknown_poll_count + 1 ELSE 0 END,
    next_poll_at = coalesce(EXCLUDED.next_poll_at, s.next_poll_at),
    status_changed_at = coalesce(EXCLUDED.status_changed_at, s.status_changed_at),
    status_digest = coalesce(EXCLUDED.status_digest, s.status_digest),
    updated_at = EXCLUDED.updated_at
), settled AS (
  -- An upload this batch completed or failed leaves the schedule: its lease
  -- or next poll time would otherwise stay in the due index, in the past,
  -- ahead of every due upload, for ever. (states and settled never touch
  -- one row: one takes the uploads still pending, the other the rest.)
  UPDATE lighthouse526_upload_poll_states ps
     SET next_poll_at = NULL, unknown_poll_count = 0, updated_at = p.now
    FROM upd, p
   WHERE ps.upload_id = upd.id AND upd.aasm_state <> p.pending
     AND (ps.next_poll_at IS NOT NULL OR ps.unknown_poll_count > 0)
     AND upd.id <> ALL(coalesce(CAST($17 AS bigint[]), '{}'))
), outbox AS (
  INSERT INTO lighthouse526_notification_outbox (upload_id, task_type, payload, created_at)
  SELECT v.id, v.notification_type, v.notification_payload, p.now
    FROM v JOIN upd ON upd.id = v.id CROSS JOIN p
   WHERE upd.aasm_state = p.failed AND v.notification_type IS NOT NULL
  ON CONFLICT (upload_id) DO NOTHING
), cycle AS (
  UPDATE lighthouse526_polling_cycles c SET
    batches_done = batches_done + 1,
    documents_polled = documents_polled + (SELECT count(*) FROM upd),
    completed_count = completed_count + (SELECT count(*) FROM upd WHERE aasm_state = p.completed),
    failed_count = failed_count + (SELECT count(*) FROM upd WHERE aasm_state = p.failed),
    unknown_count = unknown_count + (SELECT count(*) FROM v WHERE v.unknown),
    updated_at = p.now
  FROM p
  WHERE c.id = p.cycle
), quarantine AS (
  INSERT INTO lighthouse526_upload_poll_states AS s
         (upload_id, quarantined_at, quarantine_reason, quarantine_detail, created_at, updated_at)
  SELECT q.id, p.now, q.reason, q.detail, p.now, p.now
    FROM unnest(CAST($17 AS bigint[]), CAST($18 AS text[]), CAST($19 AS text[])) AS q(id, reason, detail)
    JOIN lighthouse526_document_uploads u ON u.id = q.id
   CROSS JOIN p
   WHERE u.aasm_state = p.pending
  ON CONFLICT (upload_id) DO UPDATE SET
    quarantined_at = EXCLUDED.quarantined_at, quarantine_reason = EXCLUDED.quarantine_reason,
    quarantine_detail = EXCLUDED.quarantine_detail, updated_at = EXCLUDED.updated_at
   WHERE s.quarantined_at IS NULL
  RETURNING s.upload_id
)
SELECT upd.id, upd.aasm_state FROM upd, p WHERE upd.aasm_state <> p.pending
UNION ALL
SELECT quarantine.upload_id, '` + quarantinedMark + `' FROM quarantine`
