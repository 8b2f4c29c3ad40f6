package spectest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/semanticlogger"
)

// TestNow is the clock of the specs that inject one.
var TestNow = time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)

// Log messages monitors match on (a contract: the specs spell them out).
const (
	MsgStatusUpdated       = "BenefitsDocuments::Form526::UploadStatusUpdater"
	MsgFailedUploadStatus  = "Benefits Documents API responded with a failed document upload status"
	MsgStatusEndpointError = "Lighthouse::Form526DocumentUploadPollingJob status endpoint error"
	MsgBatchTooLarge       = "Lighthouse refused a status batch as too large; asking for it in two halves (lower POLL_BATCH_SIZE)"
	MsgBatchTooSlow        = "Lighthouse did not answer a status batch of more than 100 ids in time; asking for it in two halves (lower POLL_BATCH_SIZE)"
	MsgNoStatuses          = "Lighthouse::UpdateDocumentsStatusService found no statuses in response"
	MsgRetriesExhausted    = "Lighthouse::Form526DocumentUploadPollingJob retries exhausted"
	MsgQuarantined         = "quarantined an upload that cannot be polled: it is left out of polling until its row is fixed and it is released (worker uploads release)"
	MsgBatchRefused        = "Lighthouse refused a status batch with 400; asking for it in parts to find the request ids it refuses, which are quarantined"
	MsgNoFollowUp          = "no failure follow-up for a failed Veteran Upload: it has no form attachment guid to name in the email; the upload is failed all the same"
	// The worker's own line for a failed call the original did not count.
	MsgStatusRequestFailed = "Lighthouse status request failed (transport, timeout, 5xx or token); the batch is retried unless the error is permanent"
	// The worker's own lines for the tasks the original's line is not for.
	MsgTaskExhaustedAgain    = "a polling task ran out of retries in a cycle already counted as exhausted"
	MsgTaskFailedPermanently = "a polling task failed permanently and was archived without retry"
)

// LogSink collects the log lines the worker writes: vets-api's envelope
// (vagov/semanticlogger), as in production.
type LogSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *LogSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// envelopeKeys are the members a line may have outside its payload.
var envelopeKeys = map[string]bool{
	"host": true, "application": true, "environment": true, "timestamp": true, "level": true, "level_index": true,
	"pid": true, "file": true, "line": true, "duration_ms": true, "duration": true, "name": true, "message": true,
	"payload": true, "exception": true,
}

// Entries returns every line logged so far, decoded, each with its
// payload's members beside the envelope's (level, message, exception), so
// that specs of what a line says read its fields by name; a payload member
// named as the envelope's (the original's timestamp) is the one kept. Every
// member outside the payload must be the envelope's: a field logged
// anywhere but the payload fails the spec. (The envelope itself is
// specified by vagov/semanticlogger's specs and spec/log_envelope_test.go.)
func (s *LogSink) Entries() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.buf.Bytes()))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e map[string]any
		Expect(json.Unmarshal(sc.Bytes(), &e)).To(Succeed(), "log line %q", sc.Text())
		flat := map[string]any{}
		for k, v := range e {
			Expect(envelopeKeys).To(HaveKey(k), "a member outside the payload in %s", sc.Text())
			if k != "payload" {
				flat[k] = v
			}
		}
		payload, _ := e["payload"].(map[string]any)
		for k, v := range payload {
			flat[k] = v
		}
		out = append(out, flat)
	}
	return out
}

// WithMessage returns the lines whose message is msg.
func (s *LogSink) WithMessage(msg string) []map[string]any {
	var out []map[string]any
	for _, e := range s.Entries() {
		if e["message"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// WithKind returns the records of a malformed status of this kind.
func (s *LogSink) WithKind(kind string) []map[string]any {
	var out []map[string]any
	for _, e := range s.Entries() {
		if e["kind"] == kind {
			out = append(out, e)
		}
	}
	return out
}

// Observed is one spec's metrics registry, metrics and logs.
type Observed struct {
	Reg     *prometheus.Registry
	Metrics *polling.Metrics
	Tasks   *runner.Metrics // the task server's
	Types   *tasks.Metrics  // the task types' own
	Logs    *LogSink
	Logger  *slog.Logger
}

// NewObserved is a spec's own registry with every metric on it, and a
// logger writing to its LogSink.
func NewObserved() *Observed {
	o := &Observed{Reg: prometheus.NewRegistry(), Logs: &LogSink{}}
	o.Metrics = polling.NewMetrics(o.Reg)
	o.Tasks = runner.NewMetrics(o.Reg)
	o.Types = tasks.NewMetrics(o.Reg)
	o.Logger = slog.New(runner.TaskAttrs(semanticlogger.NewHandler(o.Logs, &semanticlogger.Options{Level: slog.LevelDebug})))
	return o
}

// DocumentStatus reads form526_document_upload_status_total.
func (o *Observed) DocumentStatus(docType, outcome, step string) float64 {
	return testutil.ToFloat64(o.Metrics.DocumentStatus.WithLabelValues(docType, outcome, step))
}

// Malformed reads form526_document_upload_malformed_statuses_total{kind}.
func (o *Observed) Malformed(kind string) float64 {
	return testutil.ToFloat64(o.Metrics.MalformedStatuses.WithLabelValues(kind))
}

// PollingErrors reads form526_document_upload_polling_errors_total{reason}.
func (o *Observed) PollingErrors(reason string) float64 {
	return testutil.ToFloat64(o.Metrics.PollingErrors.WithLabelValues(reason))
}

// ExpectLintClean checks every gathered metric against the Prometheus
// naming and help conventions.
func (o *Observed) ExpectLintClean() {
	problems, err := testutil.GatherAndLint(o.Reg)
	Expect(err).NotTo(HaveOccurred())
	Expect(problems).To(BeEmpty())
}

// Rejected reads form526_document_upload_rejected_tasks_total.
func (o *Observed) Rejected(taskType, reason string) float64 {
	return testutil.ToFloat64(o.Types.RejectedTasks.WithLabelValues(taskType, reason))
}

// Quarantined reads form526_document_upload_quarantined_total{reason}.
func (o *Observed) Quarantined(reason string) float64 {
	return testutil.ToFloat64(o.Metrics.Quarantined.WithLabelValues(reason))
}

// BatchesEnqueued reads form526_document_upload_batches_enqueued_total.
func (o *Observed) BatchesEnqueued() float64 { return testutil.ToFloat64(o.Metrics.BatchesEnqueued) }

// NewUpdater builds the status updater of a spec on the suite's database,
// with a fixed clock and the production processing timeout.
func (e *Env) NewUpdater(o *Observed) *polling.StatusUpdater {
	return &polling.StatusUpdater{
		DB:                e.DB,
		Metrics:           o.Metrics,
		Now:               func() time.Time { return TestNow },
		ProcessingTimeout: 24 * time.Hour,
	}
}

// BeNumber matches a JSON number (decoded as float64) equal to n.
func BeNumber(n float64) types.GomegaMatcher {
	return BeNumerically("==", n)
}

// Apply reads the batch of requestIDs and writes resp, their answer in hand,
// as a batch does after its call (polling.BatchPoller.Poll): the specs of
// what an answer does, without the call.
func Apply(ctx context.Context, u *polling.StatusUpdater, log *slog.Logger, cycleID string, requestIDs []string, resp *lighthouse.StatusResponse) (polling.BatchSummary, error) {
	rows, err := u.Read(ctx, requestIDs)
	if err != nil {
		return polling.BatchSummary{}, err
	}
	return u.Write(ctx, log, cycleID, rows, polling.Answer{Asked: requestIDs, Resp: resp})
}
