package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/lighthouse"
)

// Fuzz tests of the task payload decoder: whoever enqueues a task (another
// service, an operator, a bug) controls its payload. Run each with
// `go test -run '^$' -fuzz '^FuzzXPayload$' -fuzztime 60s ./tasks` (make fuzz);
// under `go test` and ginkgo their seeds run as plain tests.

func FuzzPollingPayload(f *testing.F) {
	for _, s := range []string{
		`{"cycle_id":"cron:2024-06-20T10:15:00Z","scheduled_at":"2024-06-20T10:15:00Z"}`,
		`{"cycle_id":"manual:x","scheduled_at":"2024-06-20T10:15:00.123456789+02:00"}`,
		`{"cycle_id":"","scheduled_at":"2024-06-20T10:15:00Z"}`,
		`{"cycle_id":"a","scheduled_at":"0001-01-01T00:00:00Z"}`,
		`{"cycle_id":"a","scheduled_at":"2024-06-20T10:15:00Z","extra":1}`,
		`{"cycle_id":"a","scheduled_at":"2024-06-20T10:15:00Z"} {}`,
		`{"cycle_id":` + `"` + strings.Repeat("x", 201) + `","scheduled_at":"2024-06-20T10:15:00Z"}`,
		`null`, ``, `[]`, `{"cycle_id":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		p := checkDecode(t, TypePolling, payload, func() validator { return &PollingPayload{} })
		if p == nil {
			return
		}
		pp := p.(*PollingPayload)
		if pp.CycleID == "" || len(pp.CycleID) > 200 || pp.ScheduledAt.IsZero() {
			t.Fatalf("accepted an invalid polling payload: %+v", pp)
		}
	})
}

func FuzzStatusBatchPayload(f *testing.F) {
	for _, s := range []string{
		`{"cycle_id":"cron:2024-06-20T10:15:00Z","request_ids":["22","16819"]}`,
		`{"cycle_id":"c","request_ids":[]}`,
		`{"cycle_id":"c","request_ids":[""]}`,
		`{"cycle_id":"c","request_ids":["1 2"]}`,
		`{"cycle_id":"c","request_ids":[22]}`,
		`{"cycle_id":"c","request_ids":null}`,
		`{"cycle_id":"c","request_ids":["` + strings.Repeat("9", 65) + `"]}`,
		`{"request_ids":["1"]}`,
		`{"cycle_id":"c","request_ids":["1"],"cycle_id":"d"}`,
		`{"cycle_id":"c","request_ids":["\u0000"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		p := checkDecode(t, TypeStatusBatch, payload, func() validator { return &StatusBatchPayload{} })
		if p == nil {
			return
		}
		b := p.(*StatusBatchPayload)
		if b.CycleID == "" || len(b.RequestIDs) == 0 || len(b.RequestIDs) > config.MaxPollBatchSize {
			t.Fatalf("accepted an invalid batch: %+v", b)
		}
		for _, id := range b.RequestIDs {
			if !lighthouse.ValidRequestID(id) {
				t.Fatalf("accepted request id %q", id)
			}
		}
	})
}

func FuzzTrackPayload(f *testing.F) {
	for _, s := range []string{
		`{"form526_submission_id":1,"lighthouse_document_request_id":"22","document_type":"Form 0781"}`,
		`{"form526_submission_id":1,"form_attachment_id":3,"lighthouse_document_request_id":"22","document_code":"L451"}`,
		`{"form526_submission_id":1,"lighthouse_document_request_id":"22","document_code":"L023","document_type":"BDD Instructions"}`,
		`{"form526_submission_id":-1,"lighthouse_document_request_id":"x","document_type":"Receipt"}`,
		`{"form526_submission_id":1,"lighthouse_document_request_id":"22","document_type":"Veteran Upload"}`,
		`{"form526_submission_id":1e3,"lighthouse_document_request_id":"22","document_type":"Form 0781"}`,
		`{"form526_submission_id":9223372036854775808,"lighthouse_document_request_id":"22","document_type":"Form 0781"}`,
		`{"form526_submission_id":1,"form_attachment_id":0,"lighthouse_document_request_id":"22","document_code":"l2 29"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		p := checkDecode(t, TypeDocumentUploadTrack, payload, func() validator { return &TrackPayload{} })
		if p == nil {
			return
		}
		tp := p.(*TrackPayload)
		u := tp.Upload()
		if err := u.Validate(); err != nil {
			t.Fatalf("accepted a track the model refuses: %v", err)
		}
		if _, err := NewTrackTask("q", *tp); err != nil {
			t.Fatalf("accepted payload cannot be enqueued again: %v", err)
		}
	})
}

// checkDecode decodes payload as taskType and checks the decoder's contract:
// it never panics; a refusal is a *PayloadError of this task type, with a
// reason from the fixed label set, that asynq archives without retry; an
// accepted payload is valid and survives a round trip unchanged. It returns
// the decoded payload, or nil when refused.
func checkDecode(t *testing.T, taskType string, payload []byte, fresh func() validator) validator {
	t.Helper()
	v := fresh()
	var err error
	if pe := decodePayload(asynq.NewTask(taskType, payload), v); pe != nil {
		err = pe
	}
	if err != nil {
		var pe *PayloadError
		if !errors.As(err, &pe) {
			t.Fatalf("refusal is %T, not *PayloadError: %v", err, err)
		}
		if pe.TaskType != taskType || (pe.Reason != "malformed_json" && pe.Reason != "invalid") {
			t.Fatalf("bad refusal labels: %+v", pe)
		}
		if !errors.Is(err, asynq.SkipRetry) {
			t.Fatalf("a refused payload would be retried: %v", err)
		}
		return nil
	}
	if err := v.Validate(); err != nil {
		t.Fatalf("accepted a payload that does not validate: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted payload does not encode: %v", err)
	}
	again := fresh()
	if err := decodePayload(asynq.NewTask(taskType, b), again); err != nil {
		t.Fatalf("re-encoded payload %s is refused: %v", b, err)
	}
	b2, _ := json.Marshal(again)
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed the payload: %s -> %s", b, b2)
	}
	return v
}
