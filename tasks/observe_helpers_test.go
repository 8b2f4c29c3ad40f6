package tasks_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/vagov/semanticlogger"
)

// testNow is the clock of the specs that inject one.
var testNow = time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)

// Log messages monitors match on (a contract: the specs spell them out).
const (
	msgStatusUpdated       = "BenefitsDocuments::Form526::UploadStatusUpdater"
	msgFailedUploadStatus  = "Benefits Documents API responded with a failed document upload status"
	msgStatusEndpointError = "Lighthouse::Form526DocumentUploadPollingJob status endpoint error"
	msgBatchTooLarge       = "Lighthouse refused a status batch as too large; asking for it in two halves (lower POLL_BATCH_SIZE)"
	msgBatchTooSlow        = "Lighthouse did not answer a status batch of more than 100 ids in time; asking for it in two halves (lower POLL_BATCH_SIZE)"
	msgNoStatuses          = "Lighthouse::UpdateDocumentsStatusService found no statuses in response"
	// The worker's own line for a failed call the original did not count.
	msgStatusRequestFailed = "Lighthouse status request failed (transport, timeout, 5xx or token); the batch is retried unless the error is permanent"
)

// logSink collects the log lines the worker writes: vets-api's envelope
// (vagov/semanticlogger), as in production.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
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
func (s *logSink) Entries() []map[string]any {
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
func (s *logSink) WithMessage(msg string) []map[string]any {
	var out []map[string]any
	for _, e := range s.Entries() {
		if e["message"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// WithKind returns the records of a malformed status of this kind.
func (s *logSink) WithKind(kind string) []map[string]any {
	var out []map[string]any
	for _, e := range s.Entries() {
		if e["kind"] == kind {
			out = append(out, e)
		}
	}
	return out
}

// observed is one spec's metrics registry, metrics and logs.
type observed struct {
	Reg     *prometheus.Registry
	Metrics *polling.Metrics
	Tasks   *runner.Metrics // the task server's
	Logs    *logSink
	Logger  *slog.Logger
}

func newObserved() *observed {
	o := &observed{Reg: prometheus.NewRegistry(), Logs: &logSink{}}
	o.Metrics = polling.NewMetrics(o.Reg)
	o.Tasks = runner.NewMetrics(o.Reg)
	o.Logger = slog.New(semanticlogger.NewHandler(o.Logs, &semanticlogger.Options{Level: slog.LevelDebug}))
	return o
}

// DocumentStatus reads form526_document_upload_status_total.
func (o *observed) DocumentStatus(docType, outcome, step string) float64 {
	return testutil.ToFloat64(o.Metrics.DocumentStatus.WithLabelValues(docType, outcome, step))
}

// Malformed reads form526_document_upload_malformed_statuses_total{kind}.
func (o *observed) Malformed(kind string) float64 {
	return testutil.ToFloat64(o.Metrics.MalformedStatuses.WithLabelValues(kind))
}

// PollingErrors reads form526_document_upload_polling_errors_total{reason}.
func (o *observed) PollingErrors(reason string) float64 {
	return testutil.ToFloat64(o.Metrics.PollingErrors.WithLabelValues(reason))
}

// ExpectLintClean checks every gathered metric against the Prometheus
// naming and help conventions.
func (o *observed) ExpectLintClean() {
	problems, err := testutil.GatherAndLint(o.Reg)
	Expect(err).NotTo(HaveOccurred())
	Expect(problems).To(BeEmpty())
}

// newUpdater builds the status updater of a spec on the shared database,
// with a fixed clock and the production processing timeout.
func newUpdater(o *observed) *polling.StatusUpdater {
	return &polling.StatusUpdater{
		DB:                gdb,
		Metrics:           o.Metrics,
		Now:               func() time.Time { return testNow },
		ProcessingTimeout: 24 * time.Hour,
	}
}

// beNumber matches a JSON number (decoded as float64) equal to n.
func beNumber(n float64) types.GomegaMatcher {
	return BeNumerically("==", n)
}
