package spec_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/tasks"
)

// The reference's log messages (original-system.md, "Log messages"), which
// VA.gov's monitors match on, in vets-api's envelope (its last section:
// rails_semantic_logger's JSON, @message and @payload.* in Datadog).
const (
	logStatusUpdated      = "BenefitsDocuments::Form526::UploadStatusUpdater"
	logFailedUploadStatus = "Benefits Documents API responded with a failed document upload status"
	logNoStatuses         = "Lighthouse::UpdateDocumentsStatusService found no statuses in response"
)

// The members a line may have, in semantic_logger's Json formatter's order
// (lib/semantic_logger/formatters/raw.rb).
var envelopeOrder = []string{
	"host", "application", "environment", "timestamp", "level", "level_index", "pid", "file", "line",
	"duration_ms", "duration", "name", "message", "payload", "exception",
}

// Times: the envelope's as semantic_logger writes them (Time#iso8601(6)),
// the payload's as vets-api's to_json does (ActiveSupport, milliseconds).
const (
	envelopeTime = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`
	payloadTime  = `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`
)

// rawLine is one stderr line of the worker, as written and decoded.
type rawLine struct {
	raw   string
	entry logEntry
	keys  []string // its members in the order written
}

// rawLines reads every stderr line of a session, failing on any line that
// is not a JSON object of the envelope's members in the envelope's order.
func rawLines(s *gexec.Session) []rawLine {
	var out []rawLine
	sc := bufio.NewScanner(bytes.NewReader(s.Err.Contents()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		l := rawLine{raw: sc.Text()}
		Expect(json.Unmarshal(sc.Bytes(), &l.entry)).To(Succeed(), "not a JSON line: %s", l.raw)
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		_, _ = dec.Token()
		for dec.More() {
			tok, err := dec.Token()
			Expect(err).NotTo(HaveOccurred())
			l.keys = append(l.keys, tok.(string))
			var skip json.RawMessage
			Expect(dec.Decode(&skip)).To(Succeed())
		}
		Expect(envelopeOrder).To(ContainElements(l.keys), "a member outside the envelope: %s", l.raw)
		Expect(inOrder(l.keys, envelopeOrder)).To(BeTrue(), "members out of semantic_logger's order: %s", l.raw)
		Expect(l.entry).To(And(HaveKey("timestamp"), HaveKey("level"), HaveKey("level_index"), HaveKey("pid"), HaveKey("name"), HaveKey("message")), l.raw)
		out = append(out, l)
	}
	return out
}

// inOrder reports whether keys appear in the order of order.
func inOrder(keys, order []string) bool {
	pos := map[string]int{}
	for i, k := range order {
		pos[k] = i
	}
	for i := 1; i < len(keys); i++ {
		if pos[keys[i-1]] >= pos[keys[i]] {
			return false
		}
	}
	return true
}

// withMessage returns the lines whose message is msg.
func withMessage(lines []rawLine, msg string) []rawLine {
	var out []rawLine
	for _, l := range lines {
		if l.entry["message"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// beEnvelope matches a line of the worker at level (name and index), its
// constant members as the worker writes them.
func beEnvelope(level string, index int) OmegaMatcher {
	return And(
		HaveKeyWithValue("level", level),
		HaveKeyWithValue("level_index", BeNumerically("==", index)),
		HaveKeyWithValue("application", "lighthouse526-worker"),
		HaveKeyWithValue("name", "lighthouse526"),
		HaveKeyWithValue("host", Not(BeEmpty())),
		HaveKeyWithValue("pid", BeNumerically(">", 0)),
		HaveKeyWithValue("timestamp", MatchRegexp(envelopeTime)),
	)
}

// Each of the reference's log messages that the worker writes, from the real
// binary: the message string, the level, and the original's fields under
// payload.
var _ = Describe("The worker's log lines, in vets-api's envelope", func() {
	var w *world

	BeforeEach(func() {
		w = newWorld()
	})

	// pollNow runs `worker poll --now` and returns its stderr lines.
	pollNow := func() []rawLine {
		session := w.run([]string{"poll", "--now", "--json"})
		Expect(session.ExitCode()).To(Or(Equal(0), Equal(1)), string(session.Err.Contents()))
		return rawLines(session)
	}

	Describe("status endpoint error", func() {
		It("is a warn line with the 404's status, body and ids when Lighthouse knows none of them", func(ctx SpecContext) {
			seedUploads(ctx, upload{requestID: "99001"}, upload{requestID: "99002"})

			got := withMessage(pollNow(), logStatusEndpointError)

			Expect(w.statusCalls(404)).To(HaveLen(1))
			Expect(got).To(HaveLen(1))
			Expect(got[0].raw).To(ContainSubstring(`"level":"warn"`))
			Expect(got[0].raw).To(ContainSubstring(`"message":"Lighthouse::Form526DocumentUploadPollingJob status endpoint error"`))
			Expect(got[0].keys).To(HaveExactElements("host", "application", "timestamp", "level", "level_index", "pid", "name", "message", "payload"))
			Expect(got[0].entry).To(beEnvelope("warn", 3))
			p := got[0].entry.payload()
			Expect(p).To(HaveKeyWithValue("response_status", BeNumerically("==", 404)))
			// The original logged the 404's parsed body (Faraday's e.response).
			Expect(p).To(HaveKeyWithValue("response_body", HaveKeyWithValue("errors", ConsistOf(And(
				HaveKeyWithValue("detail", "Upload Request Async Status Not Found"),
				HaveKeyWithValue("status", BeNumerically("==", 404)),
				HaveKeyWithValue("title", "Not Found"),
			)))))
			Expect(stringsOf(p["lighthouse_document_request_ids"])).To(ConsistOf("99001", "99002"))
			Expect(p).To(HaveKeyWithValue("timestamp", MatchRegexp(payloadTime)))
		})

		It("is a warn line with 404, the original's body and the unknown ids only when a 200 lists requestIdsNotFound", func(ctx SpecContext) {
			known := w.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress})
			seedUploads(ctx, upload{requestID: known}, upload{requestID: "99003"})

			got := withMessage(pollNow(), logStatusEndpointError)

			Expect(w.statusCalls(200)).To(HaveLen(1))
			Expect(got).To(HaveLen(1))
			Expect(got[0].raw).To(ContainSubstring(`"level":"warn"`))
			Expect(got[0].entry).To(beEnvelope("warn", 3))
			Expect(got[0].entry.payload()).To(And(
				HaveKeyWithValue("response_status", BeNumerically("==", 404)),
				HaveKeyWithValue("response_body", "Upload Request Async Status Not Found"),
				HaveKeyWithValue("lighthouse_document_request_ids", Equal([]any{"99003"})),
				HaveKeyWithValue("timestamp", MatchRegexp(payloadTime)),
			))
		})
	})

	It("writes the status update as an info line with status, status_response and updated_at", func(ctx SpecContext) {
		id := w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
		seedUploads(ctx, upload{requestID: id})

		got := withMessage(pollNow(), logStatusUpdated)

		Expect(got).To(HaveLen(1))
		Expect(got[0].entry).To(beEnvelope("info", 2))
		requestID, err := strconv.Atoi(id)
		Expect(err).NotTo(HaveOccurred())
		Expect(got[0].entry.payload()).To(And(
			HaveKeyWithValue("status", "SUCCESS"),
			HaveKeyWithValue("status_response", And(
				HaveKeyWithValue("requestId", BeNumerically("==", requestID)),
				HaveKeyWithValue("status", "SUCCESS"),
				HaveKey("steps"),
			)),
			HaveKeyWithValue("updated_at", MatchRegexp(payloadTime)),
		))
	})

	It("writes a failed Form 0781 as a warn line with the submission, type, step, request id and user uuid", func(ctx SpecContext) {
		id := w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepBGS})
		now := time.Now().UTC()
		uuid := "f0e1d2c3-b4a5-4697-8877-665544332211"
		sub := models.Form526Submission{UserUUID: &uuid, CreatedAt: now, UpdatedAt: now}
		Expect(gdb.WithContext(ctx).Create(&sub).Error).To(Succeed())
		Expect(gdb.WithContext(ctx).Create(&models.Lighthouse526DocumentUpload{
			Form526SubmissionID: sub.ID, DocumentType: models.DocumentTypeForm0781,
			LighthouseDocumentRequestID: id, CreatedAt: now, UpdatedAt: now,
		}).Error).To(Succeed())

		got := withMessage(pollNow(), logFailedUploadStatus)

		Expect(got).To(HaveLen(1))
		Expect(got[0].entry).To(beEnvelope("warn", 3))
		Expect(got[0].entry.payload()).To(Equal(map[string]any{
			"form526_submission_id":          float64(sub.ID),
			"document_type":                  "Form 0781",
			"failure_step":                   fake.StepBGS,
			"lighthouse_document_request_id": id,
			"user_uuid":                      uuid,
		}))
	})

	It("writes an answer without statuses as a warn line with the original's two fields", func(ctx SpecContext) {
		seedUploads(ctx, upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})})
		w.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 200, Body: `{"data":{"statuses":[]}}`}}})

		got := withMessage(pollNow(), logNoStatuses)

		Expect(got).To(HaveLen(1))
		Expect(got[0].entry).To(beEnvelope("warn", 3))
		Expect(got[0].entry.payload()).To(And(
			HaveKeyWithValue("request_ids_not_found_count", BeNumerically("==", 0)),
			HaveKeyWithValue("has_request_ids_not_found", false),
		))
	})

	It("writes a cycle with nothing due as a warn line", func() {
		got := withMessage(pollNow(), logNoDocumentsToPoll)

		Expect(got).To(HaveLen(1))
		Expect(got[0].entry).To(beEnvelope("warn", 3))
		// Only the worker's own: the cycle it belongs to.
		Expect(got[0].entry.payload()).To(HaveKey("cycle_id"))
		Expect(w.fake.Requests()).To(BeEmpty())
	})

	Context("under `worker run`", func() {
		It("writes retries exhausted as a warn line with job_id, error_class, error_message and timestamp, and the task's fields in payload", func(ctx SpecContext) {
			worker := w.startWorker("--no-scheduler")
			w.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 503, Shape: fake.ShapeAPI}}})
			rid := w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			seedUploads(ctx, upload{requestID: rid})
			// A batch with no retry left: its 503 runs its retries out.
			task, err := tasks.NewStatusBatchTask(w.queue, "spec:"+randomHex(6), 0, []string{rid})
			Expect(err).NotTo(HaveOccurred())
			_, err = w.client.EnqueueContext(ctx, task, asynq.MaxRetry(0))
			Expect(err).NotTo(HaveOccurred())

			Eventually(func() []rawLine { return withMessage(rawLines(worker.session), logRetriesExhausted) }).WithTimeout(30 * time.Second).Should(HaveLen(1))

			lines := rawLines(worker.session)
			exhausted := withMessage(lines, logRetriesExhausted)[0]
			Expect(exhausted.entry).To(beEnvelope("warn", 3))
			Expect(exhausted.entry.payload()).To(And(
				HaveKeyWithValue("job_id", Not(BeEmpty())),
				HaveKeyWithValue("error_class", "lighthouse.APIError"),
				HaveKeyWithValue("error_message", ContainSubstring("HTTP 503")),
				HaveKeyWithValue("timestamp", MatchRegexp(payloadTime)),
				HaveKeyWithValue("task_type", typeStatusBatch),
			))

			// The batch's own line (the worker's: the original raised on a
			// 503 and logged no polling error): the task middleware's fields
			// in payload, the error where semantic_logger puts an exception.
			Expect(withMessage(lines, logStatusEndpointError)).To(BeEmpty())
			failed := withMessage(lines, logStatusRequestFailed)
			Expect(failed).To(HaveLen(1))
			Expect(failed[0].entry).To(beEnvelope("warn", 3))
			Expect(failed[0].entry.payload()).To(And(
				HaveKeyWithValue("response_status", BeNumerically("==", 503)),
				HaveKeyWithValue("task_type", typeStatusBatch),
				HaveKeyWithValue("task_id", Not(BeEmpty())),
				HaveKeyWithValue("queue", w.queue),
				HaveKeyWithValue("retry", BeNumerically("==", 0)),
			))
			Expect(failed[0].keys).To(ContainElement("exception"))
			Expect(failed[0].entry["exception"]).To(HaveKeyWithValue("message", ContainSubstring("HTTP 503")))
		})

		It("writes a 400's status endpoint error as the original's warn line with the task's fields in payload", func(ctx SpecContext) {
			worker := w.startWorker("--no-scheduler")
			w.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 400}}})
			seedUploads(ctx, upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})})

			w.pollWait()
			Eventually(func() []rawLine { return withMessage(rawLines(worker.session), logStatusEndpointError) }).Should(HaveLen(1))

			polling := withMessage(rawLines(worker.session), logStatusEndpointError)
			Expect(polling[0].entry).To(beEnvelope("warn", 3))
			Expect(polling[0].entry.payload()).To(And(
				HaveKeyWithValue("response_status", BeNumerically("==", 400)),
				HaveKeyWithValue("task_type", typeStatusBatch),
				HaveKeyWithValue("task_id", Not(BeEmpty())),
				HaveKeyWithValue("queue", w.queue),
				HaveKeyWithValue("retry", BeNumerically("==", 0)),
			))
			Expect(polling[0].keys).To(ContainElement("exception"))
			Expect(polling[0].entry["exception"]).To(HaveKeyWithValue("message", ContainSubstring("HTTP 400")))
		})
	})

	It("writes slog's JSON instead with LOG_FORMAT=slog", func(ctx SpecContext) {
		seedUploads(ctx, upload{requestID: "99004"})
		w.env["LOG_FORMAT"] = "slog"

		session := w.run([]string{"poll", "--now", "--json"})

		var found bool
		for _, e := range logsOf(session) {
			if e["msg"] == logStatusEndpointError {
				found = true
				Expect(e).To(HaveKeyWithValue("level", "WARN"))
				Expect(e).To(HaveKeyWithValue("response_status", BeNumerically("==", 404)))
				Expect(e).NotTo(HaveKey("payload"))
			}
		}
		Expect(found).To(BeTrue(), string(session.Err.Contents()))
	})

	It("refuses an unknown LOG_FORMAT at start, naming it", func() {
		w.env["LOG_FORMAT"] = "json"

		session := w.run([]string{"poll", "--now"})

		Expect(session.ExitCode()).To(Equal(2))
		Expect(string(session.Err.Contents())).To(ContainSubstring("LOG_FORMAT: must be one of semantic_logger|slog|text"))
	})
})
