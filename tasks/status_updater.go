package tasks

import (
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
)

// Log messages existing monitors match on: never reword them.
const (
	logStatusUpdated       = "BenefitsDocuments::Form526::UploadStatusUpdater"
	logFailedUploadStatus  = "Benefits Documents API responded with a failed document upload status"
	logStatusEndpointError = "Lighthouse::Form526DocumentUploadPollingJob status endpoint error"
	logRetriesExhausted    = "Lighthouse::Form526DocumentUploadPollingJob retries exhausted"
	logNoDocumentsToPoll   = "Lighthouse::Form526DocumentUploadPollingJob found no documents to poll"
	logNoStatuses          = "Lighthouse::UpdateDocumentsStatusService found no statuses in response"
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
// outbox, metrics and logs. The database work is two statements whatever the
// batch size: one read, one write (models.ApplyPollResults).
type StatusUpdater struct {
	DB                   *gorm.DB
	Metrics              *Metrics
	Logger               *slog.Logger
	Now                  func() time.Time
	ProcessingTimeout    time.Duration
	NotificationsEnabled bool
}

// BatchSummary says what one batch did.
type BatchSummary struct {
	Polled       int `json:"polled"`
	Completed    int `json:"completed"`
	Failed       int `json:"failed"`
	StillPending int `json:"still_pending"`
	Unknown      int `json:"unknown"`
	Malformed    int `json:"malformed"`
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
	s.Notifications += o.Notifications
}

// decision is what applying one status to one upload should do, and what it
// means for metrics and logs once the write says what really happened.
type decision struct {
	upload     models.PendingUpload
	result     models.PollResult
	status     *lighthouse.Status
	failedStep string
	timedOut   bool
	changed    bool
}

// Apply applies resp, the answer to requestIDs, and returns what it did.
// Malformed entries never fail the batch: each is skipped or applied safely,
// logged and counted. Only a database error is returned.
func (u *StatusUpdater) Apply(ctx context.Context, cycleID string, requestIDs []string, resp *lighthouse.StatusResponse) (BatchSummary, error) {
	var sum BatchSummary
	uploads, err := models.LoadPending(ctx, u.DB, requestIDs)
	if err != nil {
		return sum, err
	}
	byRequest := make(map[string][]models.PendingUpload, len(uploads))
	for _, up := range uploads {
		byRequest[up.LighthouseDocumentRequestID] = append(byRequest[up.LighthouseDocumentRequestID], up)
	}
	asked := make(map[string]bool, len(requestIDs))
	for _, id := range requestIDs {
		asked[id] = true
	}
	now := u.Now().UTC()
	log := u.Logger

	if len(resp.Statuses) == 0 && len(resp.NotFound) == 0 {
		log.WarnContext(ctx, logNoStatuses, "lighthouse_document_request_ids", requestIDs)
	}

	decisions := make(map[int64]*decision, len(uploads))
	answered := make(map[string]bool, len(resp.Statuses))
	for i := range resp.Statuses {
		s := &resp.Statuses[i]
		switch {
		case !asked[s.RequestID]:
			u.malformed(ctx, &sum, "unasked_id", s.RequestID, "ignored a status for a request id that was not asked for")
			continue
		case answered[s.RequestID]:
			u.malformed(ctx, &sum, "duplicate_entry", s.RequestID, "ignored a duplicated status entry; the first one was applied")
			continue
		}
		answered[s.RequestID] = true
		for _, up := range byRequest[s.RequestID] {
			d := u.decide(ctx, &sum, up, s, now)
			decisions[up.ID] = d
		}
	}

	var unknown []string
	for _, id := range resp.NotFound {
		if !asked[id] || answered[id] {
			continue
		}
		answered[id] = true
		unknown = append(unknown, id)
		for _, up := range byRequest[id] {
			decisions[up.ID] = &decision{upload: up, result: models.PollResult{ID: up.ID, NewState: models.StatePending, Unknown: true}}
			sum.Unknown++
		}
	}
	if len(unknown) > 0 {
		u.Metrics.UnknownRequestIDs.Add(float64(len(unknown)))
		u.Metrics.PollingErrors.WithLabelValues("not_found").Inc()
		responseStatus := 200
		if len(resp.Statuses) == 0 && len(unknown) == len(requestIDs) {
			responseStatus = 404
		}
		log.WarnContext(ctx, logStatusEndpointError,
			"response_status", responseStatus,
			"response_body", "requestIdsNotFound",
			"lighthouse_document_request_ids", unknown,
			"timestamp", now)
	}

	// Uploads Lighthouse said nothing about are stamped as polled, so that an
	// answer missing ids cannot make them be polled in a loop.
	for _, up := range uploads {
		if _, ok := decisions[up.ID]; ok {
			continue
		}
		if !answered[up.LighthouseDocumentRequestID] {
			u.malformed(ctx, &sum, "missing_from_answer", up.LighthouseDocumentRequestID, "Lighthouse's answer had no status for a request id that was asked for")
			answered[up.LighthouseDocumentRequestID] = true
		}
		decisions[up.ID] = &decision{upload: up, result: models.PollResult{ID: up.ID, NewState: models.StatePending}}
	}

	results := make([]models.PollResult, 0, len(decisions))
	for _, d := range decisions {
		results = append(results, d.result)
	}
	sort.Slice(results, func(i, j int) bool { return results[i].ID < results[j].ID })
	transitioned, err := models.ApplyPollResults(ctx, u.DB, cycleID, results, now)
	if err != nil {
		return sum, err
	}
	sum.Polled = len(results)
	u.report(ctx, &sum, decisions, transitioned, now)
	return sum, nil
}

// decide turns one status into the write for one upload. Only the document's
// status decides; the steps are informational.
func (u *StatusUpdater) decide(ctx context.Context, sum *BatchSummary, up models.PendingUpload, s *lighthouse.Status, now time.Time) *decision {
	d := &decision{upload: up, status: s, changed: !models.JSONEqual(up.LastStatusResponse, s.Raw)}
	started := msToTime(s.StartTime)
	ended := msToTime(s.EndTime)
	r := models.PollResult{ID: up.ID, NewState: models.StatePending}

	switch s.Status {
	case lighthouse.StatusSuccess, lighthouse.StatusFailed:
		if ended == nil {
			// A terminal status without its end time cannot satisfy the state
			// machine's guard: save nothing, keep it pending, poll again.
			u.malformed(ctx, sum, "missing_end_time", s.RequestID, "Lighthouse sent a terminal status without time.endTime; the upload stays pending")
			break
		}
		r.SaveStatus = true
		r.StartedAt, r.EndedAt, r.LastStatusResponse = started, ended, models.JSON(s.Raw)
		if s.Status == lighthouse.StatusSuccess {
			r.NewState = models.StateCompleted
			break
		}
		r.NewState = models.StateFailed
		r.ErrorMessage, d.failedStep = u.errorMessage(ctx, sum, s)
		r.Notification = u.notification(up)
	default:
		if s.Status != lighthouse.StatusInProgress {
			u.malformed(ctx, sum, "unexpected_status", s.RequestID, "Lighthouse sent an unknown document status; the upload stays pending")
		}
		if d.changed {
			r.SaveStatus = true
			r.StartedAt, r.LastStatusResponse = started, models.JSON(s.Raw)
		}
		d.timedOut = ended == nil && started != nil && now.Sub(*started) > u.ProcessingTimeout
	}
	d.result = r
	return d
}

// errorMessage is the status's own `error` object, kept as sent; a FAILED
// status without one gets a synthesized error whose step is "unknown".
func (u *StatusUpdater) errorMessage(ctx context.Context, sum *BatchSummary, s *lighthouse.Status) (models.JSON, string) {
	var fields struct {
		Error json.RawMessage `json:"error"`
	}
	_ = json.Unmarshal(s.Raw, &fields)
	if s.Error != nil && len(fields.Error) > 0 && string(fields.Error) != "null" {
		step := strings.ToLower(strings.TrimSpace(s.Error.Step))
		if step == "" {
			step = unknownStep
		}
		return models.JSON(fields.Error), step
	}
	u.malformed(ctx, sum, "failed_without_error", s.RequestID, "Lighthouse sent FAILED without an error object; failing the upload with a synthesized error at step unknown")
	synth, _ := json.Marshal(lighthouse.StatusError{
		Detail: "Lighthouse reported FAILED without an error object",
		Step:   unknownStep,
	})
	return models.JSON(synth), unknownStep
}

func (u *StatusUpdater) malformed(ctx context.Context, sum *BatchSummary, kind, requestID, msg string) {
	sum.Malformed++
	u.Metrics.MalformedStatuses.WithLabelValues(kind).Inc()
	u.Logger.WarnContext(ctx, msg, "kind", kind, "lighthouse_document_request_id", requestID)
}

// report counts and logs what the write really did: only uploads that
// transitioned in this statement count as completed or failed.
func (u *StatusUpdater) report(ctx context.Context, sum *BatchSummary, decisions map[int64]*decision, transitioned []models.Transitioned, now time.Time) {
	moved := make(map[int64]string, len(transitioned))
	for _, t := range transitioned {
		moved[t.ID] = t.AasmState
	}
	for id, d := range decisions {
		docType := models.MetricDocumentType(d.upload.DocumentType)
		switch moved[id] {
		case models.StateCompleted:
			sum.Completed++
			u.Metrics.DocumentStatus.WithLabelValues(docType, outcomeComplete, "").Inc()
		case models.StateFailed:
			sum.Failed++
			if d.result.Notification != nil {
				sum.Notifications++
			}
			u.Metrics.DocumentStatus.WithLabelValues(docType, outcomeFailed, d.failedStep).Inc()
			if d.upload.DocumentType == models.DocumentTypeForm0781 || d.upload.DocumentType == models.DocumentTypeForm0781a {
				u.Logger.WarnContext(ctx, logFailedUploadStatus,
					"form526_submission_id", d.upload.Form526SubmissionID,
					"document_type", d.upload.DocumentType,
					"failure_step", strings.ToUpper(d.failedStep),
					"lighthouse_document_request_id", d.upload.LighthouseDocumentRequestID,
					"user_uuid", deref(d.upload.UserUUID))
			}
		default:
			sum.StillPending++
			if d.timedOut {
				u.Metrics.DocumentStatus.WithLabelValues(docType, outcomeProcessingTimeout, "").Inc()
			}
		}
		// Only what was saved is logged as an update: a terminal status
		// without its end time saved nothing and must not read as applied.
		if d.status != nil && d.result.SaveStatus && (d.changed || moved[id] != "") {
			u.Logger.InfoContext(ctx, logStatusUpdated,
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
