package polling_test

// Go benchmarks of the batch hot path. They use their own migrated database
// (the Ginkgo suite's BeforeSuite does not run under -run '^$'):
//
//	go test ./polling -run '^$' -bench . -benchtime 200x

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/internal/spectest"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/vagov/semanticlogger"
)

const benchBatch = 100

// benchDatabase is a migrated database with benchBatch pending uploads whose
// request ids are "1".."100", of the four types.
func benchDatabase(b *testing.B) *gorm.DB {
	b.Helper()
	ctx := context.Background()
	gdb, url, err := dbtest.MigratedDatabase(ctx, "polling_bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = db.Close(gdb)
		_ = dbtest.DropDatabase(context.Background(), url)
	})
	err = gdb.Exec(`
WITH s AS (INSERT INTO form526_submissions (user_uuid, created_at, updated_at) VALUES ('u', now(), now()) RETURNING id)
INSERT INTO lighthouse526_document_uploads (form526_submission_id, lighthouse_document_request_id, aasm_state, document_type, created_at, updated_at)
SELECT s.id, i::text, 'pending', CASE i % 3 WHEN 0 THEN 'BDD Instructions' WHEN 1 THEN 'Form 0781' ELSE 'Form 0781a' END, now(), now()
  FROM s, generate_series(1, ?) i`, benchBatch).Error
	if err != nil {
		b.Fatal(err)
	}
	return gdb
}

// resetBatch makes the batch pending and never polled again.
func resetBatch(b *testing.B, gdb *gorm.DB) {
	b.Helper()
	err := gdb.Exec(`UPDATE lighthouse526_document_uploads SET aasm_state = 'pending', status_last_polled_at = NULL,
		last_status_response = NULL, lighthouse_processing_started_at = NULL, lighthouse_processing_ended_at = NULL, error_message = NULL`).Error
	if err != nil {
		b.Fatal(err)
	}
}

// benchAnswer is Lighthouse's answer for request ids 1..n: 80% SUCCESS, 10%
// FAILED, 10% IN_PROGRESS.
func benchAnswer(b *testing.B, n int) *lighthouse.StatusResponse {
	b.Helper()
	statuses := make([]json.RawMessage, 0, n)
	for i := 1; i <= n; i++ {
		steps := `[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"SUCCESS"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"SUCCESS"}]`
		status, end, errObj := "SUCCESS", "1767226200000", ""
		switch i % 10 {
		case 0:
			status, errObj = "FAILED", `,"error":{"detail":"Workflow maximum step attempts exceeded for the current step","step":"BENEFITS_GATEWAY_SERVICE"}`
		case 1:
			status, end = "IN_PROGRESS", "null"
		}
		statuses = append(statuses, json.RawMessage(fmt.Sprintf(
			`{"requestId":%d,"time":{"startTime":1767225600000,"endTime":%s},"status":%q,"steps":%s%s}`, i, end, status, steps, errObj)))
	}
	body, _ := json.Marshal(map[string]any{"data": map[string]any{"statuses": statuses}})
	resp, err := lighthouse.DecodeStatusResponse(body)
	if err != nil {
		b.Fatal(err)
	}
	return resp
}

func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = strconv.Itoa(i + 1)
	}
	return ids
}

// BenchmarkStatusUpdaterApply applies one 100-id answer: the read, the
// decisions, the one bulk write, metrics and the info log lines (JSON,
// discarded), as a batch task does after its Lighthouse call. The write
// sends the answer's body once, each status found in it by
// answer.Body.Offset (an address comparison).
func BenchmarkStatusUpdaterApply(b *testing.B) {
	benchApply(b, benchAnswer(b, benchBatch))
}

// BenchmarkStatusUpdaterApplyCopied is BenchmarkStatusUpdaterApply with an
// answer that has no body, so the write copies every status into its
// parameter instead: what answer.Body.Offset saves (docs/performance.md).
func BenchmarkStatusUpdaterApplyCopied(b *testing.B) {
	resp := benchAnswer(b, benchBatch)
	resp.Body = nil
	benchApply(b, resp)
}

func benchApply(b *testing.B, resp *lighthouse.StatusResponse) {
	gdb := benchDatabase(b)
	u := &polling.StatusUpdater{
		DB: gdb, Metrics: polling.NewMetrics(prometheus.NewRegistry()),
		Now:               func() time.Time { return time.Now().UTC() },
		ProcessingTimeout: 24 * time.Hour, Emails: polling.EmailsAlways(true),
	}
	ids := benchIDs(benchBatch)
	ctx, log := context.Background(), slog.New(semanticlogger.NewHandler(io.Discard, nil))
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		resetBatch(b, gdb)
		_ = gdb.Exec(`DELETE FROM lighthouse526_notification_outbox`).Error
		b.StartTimer()
		sum, err := spectest.Apply(ctx, u, log, "", ids, resp)
		if err != nil || sum.Polled != benchBatch {
			b.Fatalf("apply: %v (%+v)", err, sum)
		}
	}
}

// BenchmarkWriteBatch is the bulk write alone: 100 decided results.
func BenchmarkWriteBatch(b *testing.B) {
	gdb := benchDatabase(b)
	var ids []int64
	if err := gdb.Raw(`SELECT id FROM lighthouse526_document_uploads ORDER BY id`).Scan(&ids).Error; err != nil {
		b.Fatal(err)
	}
	resp := benchAnswer(b, benchBatch)
	results := make([]models.PollResult, len(ids))
	for i, id := range ids {
		s := resp.Statuses[i]
		start, end := time.UnixMilli(*s.StartTime).UTC(), time.Now().UTC()
		results[i] = models.PollResult{ID: id, NewState: models.StatePending, SaveStatus: true, StartedAt: &start, LastStatusResponse: models.JSON(s.Raw)}
		switch s.Status {
		case lighthouse.StatusSuccess:
			results[i].NewState, results[i].EndedAt = models.StateCompleted, &end
		case lighthouse.StatusFailed:
			results[i].NewState, results[i].EndedAt = models.StateFailed, &end
			results[i].ErrorMessage = models.JSON(`{"detail":"x","step":"BENEFITS_GATEWAY_SERVICE"}`)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		resetBatch(b, gdb)
		b.StartTimer()
		if _, err := models.WriteBatch(ctx, gdb, models.BatchWrite{Results: results}, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
