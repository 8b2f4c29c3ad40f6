package polling

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
)

// Outcome labels of form526_document_upload_status_total.
const (
	outcomeComplete          = "complete"
	outcomeFailed            = "failed"
	outcomeProcessingTimeout = "processing_timeout"
)

// unknownStep is the failed step of a FAILED status that named none.
const unknownStep = "unknown"

// StatusUpdater applies one Lighthouse status answer to the batch of uploads
// it was asked for: transitions, times, last status, polled-at stamps, the
// outbox, quarantines, metrics and logs. The database work is two statements
// whatever the batch size: one read (Read, before the call), one write
// (Write, models.WriteBatch).
type StatusUpdater struct {
	DB                *gorm.DB
	Metrics           *Metrics
	Now               func() time.Time
	ProcessingTimeout time.Duration
	// Emails decides, at each failure, whether its veteran is emailed:
	// VA.gov's Flipper flag, or a decision forced by
	// FAILURE_NOTIFICATIONS_ENABLED. Nil: never.
	Emails EmailFlag
	// DryRun decides and reports, and writes nothing (worker poll --dry-run).
	DryRun bool
	// Schedule, when set (POLL_STRATEGY=adaptive), gives each polled upload
	// its next poll time in the write; nil (fixed) writes none.
	Schedule *Schedule
}

// BatchSummary says what one batch did.
type BatchSummary struct {
	Polled       int `json:"polled"`
	Completed    int `json:"completed"`
	Failed       int `json:"failed"`
	StillPending int `json:"still_pending"`
	Unknown      int `json:"unknown"`
	Malformed    int `json:"malformed"`
	// Quarantined is how many uploads this batch quarantined.
	Quarantined int `json:"quarantined"`
	// Notifications is how many follow-ups went to the outbox.
	Notifications int `json:"notifications"`
}

// Add sums summaries.
func (s *BatchSummary) Add(o BatchSummary) {
	s.Polled += o.Polled
	s.Completed += o.Completed
	s.Failed += o.Failed
	s.StillPending += o.StillPending
	s.Unknown += o.Unknown
	s.Malformed += o.Malformed
	s.Quarantined += o.Quarantined
	s.Notifications += o.Notifications
}

// loggedFailureStep is the failure_step of the failed-status warning: the
// error's step as Lighthouse sent it, as the original logs error.step (the
// StatsD key and the label take it lower-cased), or the synthesized error's
// step when Lighthouse sent none.
func (d *decision) loggedFailureStep() string {
	if d.status != nil && d.status.Error != nil && strings.TrimSpace(d.status.Error.Step) != "" {
		return d.status.Error.Step
	}
	return d.failedStep
}

// decision is what applying one status to one upload means for metrics and
// logs once the write says what really happened; its write is the upload's
// models.PollResult.
type decision struct {
	status     *lighthouse.Status // nil when no status was applied
	failedStep string
	timedOut   bool
	changed    bool
	// noFollowUp says why a failure owes a follow-up that cannot be written.
	noFollowUp string
}

// What Write knows of a request id while it reads an answer.
const (
	notAsked uint8 = iota
	asked
	answered
)

// Write applies ans, Lighthouse's answer about the batch read as rows, and
// quarantines the batch's unpollable uploads (those set aside by the read,
// and those whose request id Lighthouse refused), all in one statement, and
// returns what it did. Malformed entries never fail the batch: each is
// skipped or applied safely, logged and counted. Only a database error is
// returned.
//
// Its steps, in order: each status decides the uploads of its request id;
// invalid entries and unknown ids are accounted for; uploads the answer
// left out are stamped as polled; the adaptive schedule is set; the one
// statement writes it all; what the statement really did is counted and
// logged.
func (u *StatusUpdater) Write(ctx context.Context, log *slog.Logger, cycleID string, rows *BatchRows, ans Answer) (BatchSummary, error) {
	a := u.newApplying(ctx, log, rows, ans)
	a.warnIfNoStatuses()
	a.decideStatuses()
	a.skipInvalidEntries()
	a.markUnknown()
	a.stampUnanswered()
	u.schedule(a.uploads, a.results, a.decisions, a.now)
	written, err := u.write(ctx, cycleID, a)
	if err != nil {
		return a.sum, err
	}
	a.sum.Polled = len(a.results)
	u.report(ctx, log, &a.sum, a.uploads, a.results, a.decisions, written.Transitioned, a.now)
	u.Metrics.reportQuarantined(ctx, log, written.Quarantined)
	a.sum.Quarantined = len(written.Quarantined)
	return a.sum, nil
}

// decide turns one status into the write for one upload. Only the document's
// status decides; the steps are informational.
func (u *StatusUpdater) decide(ctx context.Context, log *slog.Logger, sum *BatchSummary, up *models.PendingUpload, s *lighthouse.Status, now time.Time) (decision, models.PollResult) {
	d := decision{status: s, changed: !models.JSONEqual(up.LastStatusResponse, s.Raw)}
	started := msToTime(s.StartTime)
	ended := msToTime(s.EndTime)
	r := models.PollResult{ID: up.ID, NewState: models.StatePending}

	switch s.Status {
	case lighthouse.StatusSuccess, lighthouse.StatusFailed:
		if !models.CanComplete(ended) {
			// A terminal status without its end time satisfies neither
			// guard (models.CanComplete, models.CanFail): save nothing, keep
			// it pending, poll again.
			u.malformed(ctx, log, sum, "missing_end_time", s.RequestID, "Lighthouse sent a terminal status without time.endTime; the upload stays pending")
			break
		}
		r.SaveStatus = true
		r.StartedAt, r.EndedAt, r.LastStatusResponse = started, ended, models.JSON(s.Raw)
		if s.Status == lighthouse.StatusSuccess {
			r.NewState = models.StateCompleted
			break
		}
		r.NewState = models.StateFailed
		r.ErrorMessage, d.failedStep = u.errorMessage(ctx, log, sum, s)
		r.Notification, d.noFollowUp = u.notification(ctx, up)
	default:
		if s.Status != lighthouse.StatusInProgress {
			u.malformed(ctx, log, sum, "unexpected_status", s.RequestID, "Lighthouse sent an unknown document status; the upload stays pending")
		}
		if d.changed {
			r.SaveStatus = true
			r.StartedAt, r.LastStatusResponse = started, models.JSON(s.Raw)
		}
		d.timedOut = ended == nil && started != nil && now.Sub(*started) > u.ProcessingTimeout
	}
	return d, r
}

// errorMessage is the status's own `error` object, kept as sent; a FAILED
// status without one gets a synthesized error whose step is "unknown".
func (u *StatusUpdater) errorMessage(ctx context.Context, log *slog.Logger, sum *BatchSummary, s *lighthouse.Status) (models.JSON, string) {
	// JSON v2, as the decoder read the entry: member names match exactly
	// (encoding/json took an "Error" member after "error" for it, found by
	// tasks.FuzzStatusBatchPath).
	var fields struct {
		Error jsontext.Value `json:"error"`
	}
	_ = jsonv2.Unmarshal(s.Raw, &fields)
	if s.Error != nil && len(fields.Error) > 0 && string(fields.Error) != "null" {
		step := strings.ToLower(strings.TrimSpace(s.Error.Step))
		if step == "" {
			step = unknownStep
		}
		return models.JSON(fields.Error), step
	}
	u.malformed(ctx, log, sum, "failed_without_error", s.RequestID, "Lighthouse sent FAILED without an error object; failing the upload with a synthesized error at step unknown")
	synth, _ := json.Marshal(lighthouse.StatusError{
		Detail: "Lighthouse reported FAILED without an error object",
		Step:   unknownStep,
	})
	return models.JSON(synth), unknownStep
}

func (u *StatusUpdater) malformed(ctx context.Context, log *slog.Logger, sum *BatchSummary, kind, requestID, msg string, attrs ...any) {
	sum.Malformed++
	u.Metrics.MalformedStatuses.WithLabelValues(kind).Inc()
	log.WarnContext(ctx, msg, append([]any{"kind", kind, "lighthouse_document_request_id", requestID}, attrs...)...)
}

// report counts and logs what the write really did: only uploads that
// transitioned in this statement count as completed or failed.
func (u *StatusUpdater) report(ctx context.Context, log *slog.Logger, sum *BatchSummary, uploads []models.PendingUpload, results []models.PollResult, decisions []decision, transitioned []models.Transitioned, now time.Time) {
	moved := make(map[int64]string, len(transitioned))
	for _, t := range transitioned {
		moved[t.ID] = t.AasmState
	}
	for j := range decisions {
		d, r, up := &decisions[j], &results[j], &uploads[j]
		docType := models.MetricDocumentType(up.DocumentType)
		switch moved[up.ID] {
		case models.StateCompleted:
			sum.Completed++
			u.Metrics.DocumentStatus.WithLabelValues(docType, outcomeComplete, "").Inc()
			u.Metrics.StatsD.DocumentCompleted(docType)
		case models.StateFailed:
			sum.Failed++
			if r.Notification != nil {
				sum.Notifications++
			}
			u.Metrics.DocumentStatus.WithLabelValues(docType, outcomeFailed, d.failedStep).Inc()
			if d.noFollowUp != "" {
				u.Metrics.NotificationsSkipped.WithLabelValues(d.noFollowUp).Inc()
				log.WarnContext(ctx, logNotificationSkipped,
					"reason", d.noFollowUp,
					"upload_id", up.ID,
					"form526_submission_id", up.Form526SubmissionID,
					"lighthouse_document_request_id", up.LighthouseDocumentRequestID)
			}
			u.Metrics.StatsD.DocumentFailed(docType, d.failedStep)
			if up.DocumentType == models.DocumentTypeForm0781 || up.DocumentType == models.DocumentTypeForm0781a {
				log.WarnContext(ctx, LogFailedUploadStatus,
					"form526_submission_id", up.Form526SubmissionID,
					"document_type", up.DocumentType,
					"failure_step", d.loggedFailureStep(),
					"lighthouse_document_request_id", up.LighthouseDocumentRequestID,
					"user_uuid", deref(up.UserUUID))
			}
		default:
			sum.StillPending++
			if d.timedOut {
				u.Metrics.DocumentStatus.WithLabelValues(docType, outcomeProcessingTimeout, "").Inc()
				u.Metrics.StatsD.DocumentProcessingTimeout(docType)
			}
		}
		// Only what was saved is logged as an update: a terminal status
		// without its end time saved nothing and must not read as applied.
		if d.status != nil && r.SaveStatus && (d.changed || moved[up.ID] != "") {
			log.InfoContext(ctx, LogStatusUpdated,
				"status", d.status.Status,
				"status_response", json.RawMessage(d.status.Raw),
				"updated_at", now)
		}
	}
}

// msToTime converts Lighthouse's epoch milliseconds to a UTC time truncated
// to the second, as the original stored them.
func msToTime(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := time.Unix(*ms/1000, 0).UTC()
	return &t
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// notFoundBody is what the original logged as the response_body of a
// partial answer: the status and message its update service made up for
// the ids Lighthouse did not know.
const notFoundBody = "Upload Request Async Status Not Found"

// unknownIDsAttrs are the fields of the "status endpoint error" line for ids
// Lighthouse did not know, as the original logged them: response_status
// 404 either way; response_body the 404's own parsed body when Lighthouse
// knew none of them, else notFoundBody; the unknown ids as strings.
func unknownIDsAttrs(resp *lighthouse.StatusResponse, unknown []string, now time.Time) []any {
	var body any = notFoundBody
	if len(resp.Statuses) == 0 && len(resp.NotFoundErrors) > 0 {
		body = notFoundAnswerBody(resp.NotFoundErrors)
	}
	return []any{
		"response_status", http.StatusNotFound,
		"response_body", body,
		"lighthouse_document_request_ids", unknown,
		"timestamp", now,
	}
}

// notFoundAnswerBody is a 404's {"errors":[...]} body, with each error's
// status, which lighthouse.ErrorObject reads but does not write.
func notFoundAnswerBody(errs []lighthouse.ErrorObject) map[string]any {
	out := make([]map[string]any, len(errs))
	for i, e := range errs {
		out[i] = map[string]any{
			"detail": e.Detail, "status": e.Status, "title": e.Title,
			"instance": e.Instance, "diagnostics": e.Diagnostics,
		}
	}
	return map[string]any{"errors": out}
}
