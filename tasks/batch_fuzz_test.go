package tasks_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/semanticlogger"
)

// FuzzStatusBatchPath runs Lighthouse answers through the whole batch path
// as production does (issue 23, "whole-path fuzzing"): a status batch task
// built with its real payload, handed to tasks.StatusBatchHandler as asynq
// hands it (ProcessTask), which reads the batch's uploads from Postgres,
// asks Lighthouse over real HTTP (a real client, a token from the repo's
// fake Lighthouse, the status call answered with the fuzzed bytes), decodes,
// decides and writes. The answer is the fuzzer's answer input as it is when
// ops is empty (seeded with the recorded answers: raw byte mutations), or
// built by fuzzAnswer from ops with answer as text (field mutations).
//
// Per answer it checks, against an oracle that reads the answer apart from
// the product's decoder (expectFrom):
//   - the batch never fails because of one entry: only an answer the oracle
//     finds unusable as a whole may fail it, and then nothing changed;
//   - every well-formed entry is applied: each upload's state, times, last
//     response, error and polled-at stamp are what the rules say, and its
//     follow-up is in the outbox exactly when it failed;
//   - nothing outside the batch changes: the other uploads (pending ones
//     not asked, finished ones of the same request ids, a quarantined one
//     asked) and every other row stay byte for byte.
//
// One database, Lighthouse and handler per process serve every input; only
// the batch's rows are reset. Run it with `make fuzz` (FUZZTIME) or
// `go test -run '^$' -fuzz '^FuzzStatusBatchPath$' -fuzztime 60s ./tasks`
// with TEST_DATABASE_URL and TEST_REDIS_ADDR set; under `go test` and ginkgo
// its seeds and testdata/fuzz/FuzzStatusBatchPath run as plain tests.
func FuzzStatusBatchPath(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s.answer), []byte(s.ops))
	}
	var (
		once     sync.Once
		w        *fuzzWorld
		setupErr error
	)
	f.Cleanup(func() {
		if w != nil {
			w.close()
		}
	})
	f.Fuzz(func(t *testing.T, answer, ops []byte) {
		// Set up in the process that runs inputs (a fuzzing worker), once.
		once.Do(func() { w, setupErr = newFuzzWorld() })
		if setupErr != nil {
			t.Fatal(setupErr)
		}
		w.check(t, answer, ops)
	})
}

// fuzzSeed is one seed: a whole answer (ops empty), or ops choosing fields
// with answer as their text.
type fuzzSeed struct{ answer, ops string }

// fuzzSeeds are the recorded answers (lighthouse-api.md; the fake
// Lighthouse's hostile kinds), and field choices that reach each hostile
// kind of issue 23. testdata/fuzz/FuzzStatusBatchPath holds these and what
// fuzzing found.
func fuzzSeeds() []fuzzSeed {
	success := `{"data":{"statuses":[{"requestId":22,"time":{"startTime":1718902851802,"endTime":1720793267285},"status":"SUCCESS","steps":[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"SUCCESS"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"SUCCESS"}]}]}}`
	failed := `{"data":{"statuses":[{"requestId":16819,"time":{"startTime":1704824509436,"endTime":1704856371167},"status":"FAILED","steps":[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"FAILED"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"NOT_STARTED"}],"error":{"detail":"Workflow maximum step attempts exceeded for the current step","step":"CLAIMS_EVIDENCE"}}],"requestIdsNotFound":[21]}}`
	inProgress := `{"data":{"statuses":[{"requestId":23,"time":{"startTime":1718902851802,"endTime":null},"status":"IN_PROGRESS","steps":[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"d","status":"IN_PROGRESS"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"d","status":"NOT_STARTED"}]}]}}`
	all := `{"data":{"statuses":[` +
		`{"requestId":22,"time":{"startTime":1718902851802,"endTime":1720793267285},"status":"SUCCESS","steps":[]},` +
		`{"requestId":"23","time":{"startTime":1718902851802,"endTime":1720793267285},"status":"FAILED","error":{"detail":"disk \ud800 full","step":"CLAIMS_EVIDENCE"}},` +
		"{\"requestId\":24,\"time\":{\"startTime\":1718902851802,\"endTime\":null},\"status\":\"IN_PROGRESS\",\"steps\":[{\"description\":\"caf\xe9 \xff\xfe\"}]}," +
		`{"requestId":25,"time":{"startTime":1718902851802,"endTime":9999999999999999},"status":"SUCCESS"},` +
		`{"requestId":16819,"time":{"startTime":1720793267285,"endTime":1718902851802},"status":"FAILED","error":null},` +
		`{"requestId":22,"time":null,"status":"FAILED"}],"requestIdsNotFound":[21,26]}}`
	return []fuzzSeed{
		{answer: success}, {answer: failed}, {answer: inProgress}, {answer: all},
		{answer: `{"errors":[{"detail":"Upload Request Async Status Not Found","status":404,"title":"Not Found"}]}`},
		{answer: `{"data":{"statuses":[],"requestIdsNotFound":[21,"22"]}}`},
		{answer: `{"data":null}`}, {answer: ``},
		// Field choices (fuzzEntry): six recorded-looking entries, then one
		// hostile field each.
		{ops: "\x05"},
		{ops: "\x01\x00\x00\x06", answer: `\ud800 lone`},
		{ops: "\x01\x00\x00\x0b\x00\x03", answer: "caf\xe9 \xff\xfe"},
		{ops: "\x00\x00\x00\x06"},
		{ops: "\x00\x00\x00\x07"},
		{ops: "\x00\x00\x00\x08"},
		{ops: "\x00\x00\x00\x00\x04\x07"},
		{ops: "\x00\x00\x05"},
		{ops: "\x00\x00\x00\x00\x00\x00\x01"},
		{ops: "\x00\x00\x00\x00\x00\x00\x00"},
		{ops: "\x00\x00\x00\x00\x00\x00\x02\x02"},
		{ops: "\x00\x00\x00\x00\x00\x00\x01\x03"},
		{ops: "\x00\x00\x00\x00\x00\x00\x01\x04"},
	}
}

// fuzzWorld is one process's database, Lighthouse and batch handler.
type fuzzWorld struct {
	db      *gorm.DB
	dbURL   string
	rdb     *redis.Client
	prefix  string
	srv     *httptest.Server
	fake    *fake.Server
	handler *tasks.StatusBatchHandler
	payload []byte
	batch   []fuzzUpload // the batch's pollable uploads
	batchID []int64
	initial string // the batch's rows as seeded (jsonb), to reset them
	reseed  string // the statement that resets the batch (reset)
	beside  string // every row outside the batch as seeded (outside)

	mu    sync.Mutex
	body  []byte     // what the status endpoint answers
	calls [][]string // the ids of each status call
	now   time.Time  // the updater's clock during one input
}

// The fake Lighthouse's consumer: any client id and Okta audience do, the
// token endpoint checks the assertion against them.
const (
	fakeClientID = "0oa-tasks-fuzz-client"
	fakeAudClaim = "https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"
)

// fuzzUpload is an upload of the batch.
type fuzzUpload struct {
	id        int64
	requestID string
	docType   string
	emails    bool // a failure writes a follow-up (its type, its attachment)
}

func newFuzzWorld() (*fuzzWorld, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := &fuzzWorld{prefix: fmt.Sprintf("tasks-fuzz:%d:", os.Getpid())}
	var err error
	// A missing Postgres or Redis fails the target; it never skips.
	if w.db, w.dbURL, err = dbtest.MigratedDatabase(ctx, fmt.Sprintf("fuzz_batch_%d", os.Getpid())); err != nil {
		return nil, err
	}
	w.rdb = redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: dbtest.RedisDBTasks})
	if err := w.rdb.Ping(ctx).Err(); err != nil {
		w.close()
		return nil, fmt.Errorf("Redis is required at %s: %w", dbtest.RedisAddr(), err)
	}
	if err := w.startLighthouse(); err != nil {
		w.close()
		return nil, err
	}
	if err := w.seed(ctx); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// startLighthouse serves the fake Lighthouse (tokens: a real assertion
// checked with a real key) with its status endpoint answering w.body, and
// builds the handler as worker wiring does, on a real client of it.
func (w *fuzzWorld) startLighthouse() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	w.fake = fake.New(fake.Options{PublicKey: &key.PublicKey, ClientID: fakeClientID, AudClaimURL: fakeAudClaim})
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != fake.APIPrefix+"/uploads/status" {
			w.fake.ServeHTTP(rw, r)
			return
		}
		var req struct {
			Data struct {
				RequestIDs []string `json:"requestIds"`
			} `json:"data"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		w.mu.Lock()
		w.calls = append(w.calls, req.Data.RequestIDs)
		body := w.body
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		_, _ = rw.Write(body)
	}))
	client, err := lighthouse.NewClient(lighthouse.Config{
		BaseURL:     w.srv.URL + fake.APIPrefix,
		TokenURL:    w.srv.URL + fake.TokenPath,
		AudClaimURL: fakeAudClaim,
		ClientID:    fakeClientID,
		PrivateKey:  key,
		Timeout:     30 * time.Second,
		// Inputs are not rate limited: the budget is not what is fuzzed.
		RateLimitPerMinute: 100_000_000,
		RateLimitBurst:     100_000,
		MaxRateLimitWait:   time.Second,
		RedisPrefix:        w.prefix,
	}, w.rdb, lighthouse.WithRegisterer(prometheus.NewRegistry()))
	if err != nil {
		return err
	}
	metrics := polling.NewMetrics(prometheus.NewRegistry())
	logger := slog.New(semanticlogger.NewHandler(io.Discard, nil))
	w.handler = &tasks.StatusBatchHandler{
		Poller: &polling.BatchPoller{
			Lighthouse: client,
			Updater: &polling.StatusUpdater{
				DB: w.db, Metrics: metrics, ProcessingTimeout: 24 * time.Hour,
				Now:    func() time.Time { return w.now },
				Emails: polling.EmailsAlways(true),
			},
		},
		Metrics: tasks.NewMetrics(prometheus.NewRegistry()),
		Logger:  logger,
	}
	return nil
}

// seed writes the batch's uploads and the rows beside it: a pending upload
// of request id 26 (not asked, which answers may name), finished uploads of
// request ids the batch asks, and a quarantined upload the payload names.
func (w *fuzzWorld) seed(ctx context.Context) error {
	tx := w.db.WithContext(ctx)
	upload := func(requestID, docType, state string, attach bool) (int64, error) {
		uuid := fmt.Sprintf("%032x", len(requestID)+len(docType))
		s := models.Form526Submission{UserUUID: &uuid}
		if err := tx.Create(&s).Error; err != nil {
			return 0, err
		}
		u := models.Lighthouse526DocumentUpload{Form526SubmissionID: s.ID, LighthouseDocumentRequestID: requestID, DocumentType: docType}
		if attach {
			a := models.FormAttachment{GUID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", s.ID), Type: "SupportingEvidenceAttachment"}
			if err := tx.Create(&a).Error; err != nil {
				return 0, err
			}
			u.FormAttachmentID = &a.ID
		}
		if err := tx.Create(&u).Error; err != nil || state == models.StatePending {
			return u.ID, err
		}
		// Finished before this batch: as the write of an earlier one left it.
		return u.ID, tx.Exec(`UPDATE lighthouse526_document_uploads SET aasm_state = ?, lighthouse_processing_ended_at = ?, status_last_polled_at = ?,
			last_status_response = CAST(? AS jsonb) WHERE id = ?`, state, time.Date(2024, 7, 12, 14, 7, 47, 0, time.UTC), time.Date(2024, 7, 12, 14, 7, 47, 0, time.UTC),
			`{"requestId":`+requestID+`,"status":"SUCCESS"}`, u.ID).Error
	}
	for _, b := range []struct {
		requestID, docType string
		attach             bool
	}{
		{"22", models.DocumentTypeForm0781, false},
		{"23", models.DocumentTypeVeteranUpload, true},
		{"24", models.DocumentTypeBDDInstructions, false},
		{"25", models.DocumentTypeForm0781a, false},
		{"25", models.DocumentTypeBDDInstructions, false}, // two uploads, one request id
		{"16819", models.DocumentTypeVeteranUpload, true},
		{"21", models.DocumentTypeForm0781, false},
	} {
		id, err := upload(b.requestID, b.docType, models.StatePending, b.attach)
		if err != nil {
			return err
		}
		emails := b.docType == models.DocumentTypeForm0781 || b.docType == models.DocumentTypeForm0781a || b.attach
		w.batch = append(w.batch, fuzzUpload{id: id, requestID: b.requestID, docType: b.docType, emails: emails})
		w.batchID = append(w.batchID, id)
	}
	if _, err := upload("26", models.DocumentTypeForm0781, models.StatePending, false); err != nil {
		return err
	}
	if _, err := upload("22", models.DocumentTypeForm0781, models.StateCompleted, false); err != nil {
		return err
	}
	if _, err := upload("23", models.DocumentTypeVeteranUpload, models.StateFailed, true); err != nil {
		return err
	}
	quarantined, err := upload("27", models.DocumentTypeForm0781, models.StatePending, false)
	if err != nil {
		return err
	}
	if err := tx.Exec(`INSERT INTO lighthouse526_upload_poll_states (upload_id, quarantined_at, quarantine_reason, quarantine_detail, created_at, updated_at)
		VALUES (?, now(), ?, 'seeded by the fuzz target', now(), now())`, quarantined, models.QuarantineInvalidDocumentType).Error; err != nil {
		return err
	}
	if err := tx.Raw(`SELECT coalesce(jsonb_agg(to_jsonb(u) ORDER BY u.id), '[]')::text FROM lighthouse526_document_uploads u WHERE u.id IN ?`, w.batchID).
		Scan(&w.initial).Error; err != nil {
		return err
	}
	w.payload, err = json.Marshal(tasks.StatusBatchPayload{CycleID: "adhoc:fuzz", RequestIDs: append(slices.Clone(fuzzAsked), "27")})
	if err != nil {
		return err
	}
	var columns []string
	if err := tx.Raw(`SELECT quote_ident(column_name) FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'lighthouse526_document_uploads' ORDER BY ordinal_position`).Scan(&columns).Error; err != nil {
		return err
	}
	cols := strings.Join(columns, ", ")
	w.reseed = `WITH outbox AS (DELETE FROM lighthouse526_notification_outbox WHERE upload_id IN ?),
		states AS (DELETE FROM lighthouse526_upload_poll_states WHERE upload_id IN ?)
		UPDATE lighthouse526_document_uploads u SET (` + cols + `) = (SELECT ` + cols + ` FROM jsonb_populate_record(NULL::lighthouse526_document_uploads, s.row))
		FROM jsonb_array_elements(CAST(? AS jsonb)) AS s(row) WHERE u.id = CAST(s.row->>'id' AS bigint)`
	w.beside, err = w.outside(ctx)
	return err
}

// reset puts the batch back as seeded, in one statement: its uploads, and
// no state or follow-up of theirs.
func (w *fuzzWorld) reset(ctx context.Context) error {
	return w.db.WithContext(ctx).Exec(w.reseed, w.batchID, w.batchID, w.initial).Error
}

// outside is every row that is not the batch's, as text.
func (w *fuzzWorld) outside(ctx context.Context) (string, error) {
	var s string
	err := w.db.WithContext(ctx).Raw(`SELECT concat_ws(E'\n',
		(SELECT jsonb_agg(to_jsonb(u) ORDER BY u.id) FROM lighthouse526_document_uploads u WHERE u.id NOT IN ?),
		(SELECT jsonb_agg(to_jsonb(p) ORDER BY p.upload_id) FROM lighthouse526_upload_poll_states p WHERE p.upload_id NOT IN ?),
		(SELECT jsonb_agg(to_jsonb(o) ORDER BY o.id) FROM lighthouse526_notification_outbox o WHERE o.upload_id NOT IN ?),
		(SELECT jsonb_agg(to_jsonb(c)) FROM lighthouse526_polling_cycles c),
		(SELECT jsonb_agg(to_jsonb(s) ORDER BY s.id) FROM form526_submissions s),
		(SELECT jsonb_agg(to_jsonb(a) ORDER BY a.id) FROM form_attachments a))`, w.batchID, w.batchID, w.batchID).Scan(&s).Error
	return s, err
}

// batchState is the batch's rows, their states and follow-ups, as text.
func (w *fuzzWorld) batchState(ctx context.Context) (rows string, extra string, err error) {
	tx := w.db.WithContext(ctx)
	if err = tx.Raw(`SELECT coalesce(jsonb_agg(to_jsonb(u) ORDER BY u.id), '[]')::text FROM lighthouse526_document_uploads u WHERE u.id IN ?`, w.batchID).Scan(&rows).Error; err != nil {
		return "", "", err
	}
	err = tx.Raw(`SELECT concat_ws(E'\n',
		(SELECT jsonb_agg(to_jsonb(p)) FROM lighthouse526_upload_poll_states p WHERE p.upload_id IN ?),
		(SELECT jsonb_agg(to_jsonb(o)) FROM lighthouse526_notification_outbox o WHERE o.upload_id IN ?))`, w.batchID, w.batchID).Scan(&extra).Error
	return rows, extra, err
}

// fuzzRow is what the rules decide of an upload's row.
type fuzzRow struct {
	ID                 int64
	AasmState          string
	StartedAt          *time.Time `gorm:"column:lighthouse_processing_started_at"`
	EndedAt            *time.Time `gorm:"column:lighthouse_processing_ended_at"`
	StatusLastPolledAt *time.Time
	ErrorMessage       *string
	LastStatusResponse *string
}

// check runs one input through the batch path and checks it.
func (w *fuzzWorld) check(t *testing.T, answer, ops []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	now := time.Now().UTC().Truncate(time.Microsecond)
	body := answer
	if len(ops) > 0 {
		body = fuzzAnswer(ops, answer, now)
	}
	want := expectFrom(body, fuzzAsked, now)

	if err := w.reset(ctx); err != nil {
		t.Fatalf("reset the batch: %v", err)
	}
	w.mu.Lock()
	w.body, w.calls, w.now = body, nil, now
	w.mu.Unlock()

	runErr := w.handler.ProcessTask(ctx, asynq.NewTask(tasks.TypeStatusBatch, w.payload))

	after, err := w.outside(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != w.beside {
		t.Fatalf("the batch changed rows outside it (error %v)\nbefore: %s\nafter:  %s\nanswer: %q", runErr, w.beside, after, clip(body))
	}
	w.mu.Lock()
	calls := w.calls
	w.mu.Unlock()
	wantIDs := slices.Sorted(slices.Values(fuzzAsked))
	if len(calls) != 1 || !slices.Equal(slices.Sorted(slices.Values(calls[0])), wantIDs) {
		t.Fatalf("Lighthouse was asked %v, not once for %v", calls, wantIDs)
	}
	rows, extra, err := w.batchState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if runErr != nil {
		if want.mayFail == "" {
			t.Fatalf("the batch failed on an answer whose entries must be applied one by one: %v\nanswer: %q", runErr, clip(body))
		}
		if rows != w.initial || extra != "" {
			t.Fatalf("the batch failed (%v) yet changed its rows:\nseeded: %s\nnow:    %s\n%s", runErr, w.initial, rows, extra)
		}
		return
	}
	// An answer the oracle finds unusable as a whole (want.first is empty)
	// may still be taken, if it applies nothing: one whose only entry has
	// implausible times as well as a number Postgres cannot hold is read as
	// implausible and applied as no status.
	w.checkRows(ctx, t, want, now, body)
}

// checkRows checks each upload of the batch against what its request id's
// first well-formed entry (or none) says.
func (w *fuzzWorld) checkRows(ctx context.Context, t *testing.T, want fuzzExpect, now time.Time, body []byte) {
	var got []fuzzRow
	if err := w.db.WithContext(ctx).Raw(`SELECT id, aasm_state, lighthouse_processing_started_at, lighthouse_processing_ended_at,
		status_last_polled_at, error_message::text AS error_message, last_status_response::text AS last_status_response
		FROM lighthouse526_document_uploads WHERE id IN ? ORDER BY id`, w.batchID).Scan(&got).Error; err != nil {
		t.Fatal(err)
	}
	var outbox []int64
	if err := w.db.WithContext(ctx).Raw(`SELECT upload_id FROM lighthouse526_notification_outbox WHERE upload_id IN ? ORDER BY upload_id`, w.batchID).
		Scan(&outbox).Error; err != nil {
		t.Fatal(err)
	}
	var wantOutbox []int64
	for i, up := range w.batch {
		e := want.first[up.requestID]
		r := got[i]
		fail := func(format string, a ...any) {
			t.Helper()
			t.Fatalf("upload %d (request id %s, entry %q): %s\nrow: %s\nanswer: %q", up.id, up.requestID, clipStr(entryText(e)),
				fmt.Sprintf(format, a...), rowText(r), clip(body))
		}
		state, saved, ended := models.StatePending, false, false
		if e != nil {
			switch e.status {
			case lighthouse.StatusSuccess, lighthouse.StatusFailed:
				if e.end != nil {
					state, saved, ended = models.StateCompleted, true, true
					if e.status == lighthouse.StatusFailed {
						state = models.StateFailed
					}
				}
			default:
				saved = true
			}
		}
		if r.AasmState != state {
			fail("state %s, want %s", r.AasmState, state)
		}
		if r.StatusLastPolledAt == nil || !r.StatusLastPolledAt.Equal(now) {
			fail("polled at %v, want %v", r.StatusLastPolledAt, now)
		}
		if !saved {
			if r.StartedAt != nil || r.EndedAt != nil || r.LastStatusResponse != nil || r.ErrorMessage != nil {
				fail("saved a status when none applies")
			}
			continue
		}
		if !sameTime(r.StartedAt, e.start) {
			fail("started at %v, want %v", r.StartedAt, secondsOf(e.start))
		}
		var wantEnd *int64
		if ended {
			wantEnd = e.end
		}
		if !sameTime(r.EndedAt, wantEnd) {
			fail("ended at %v, want %v", r.EndedAt, secondsOf(wantEnd))
		}
		if r.LastStatusResponse == nil || !sameJSON(t, *r.LastStatusResponse, e.raw) {
			fail("last_status_response is not the entry")
		}
		switch {
		case state != models.StateFailed:
			if r.ErrorMessage != nil {
				fail("an error message without a failure")
			}
		case e.errorObj != nil:
			if r.ErrorMessage == nil || !sameJSON(t, *r.ErrorMessage, e.errorObj) {
				fail("error_message is not the entry's error object")
			}
		default:
			if r.ErrorMessage == nil || !sameJSON(t, *r.ErrorMessage, []byte(`{"detail":"Lighthouse reported FAILED without an error object","step":"unknown"}`)) {
				fail("error_message is not the synthesized error")
			}
		}
		if state == models.StateFailed && up.emails {
			wantOutbox = append(wantOutbox, up.id)
		}
	}
	if !slices.Equal(outbox, wantOutbox) {
		t.Fatalf("follow-ups for uploads %v, want %v\nanswer: %q", outbox, wantOutbox, clip(body))
	}
}

// secondsOf is epoch milliseconds as the original stores them: UTC, cut to
// the second.
func secondsOf(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := time.Unix(*ms/1000, 0).UTC()
	return &t
}

func sameTime(got *time.Time, ms *int64) bool {
	want := secondsOf(ms)
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	return got.Equal(*want)
}

// cutText is the end of a string cut at lighthouse.MaxFieldBytes.
var cutText = regexp.MustCompile(`…\[cut by lighthouse526 at [0-9]+ of [0-9]+ bytes\]$`)

// sameJSON reports whether stored (jsonb's text) holds what sent says, read
// as encoding/json reads it: numbers by value, a string cut at
// lighthouse.MaxFieldBytes (and marked so) as its beginning. No stored
// string may be longer than the cap and its mark.
func sameJSON(t *testing.T, stored string, sent []byte) bool {
	t.Helper()
	var a, b any
	for _, x := range []struct {
		in  []byte
		out *any
	}{{[]byte(stored), &a}, {sent, &b}} {
		dec := json.NewDecoder(bytes.NewReader(x.in))
		dec.UseNumber()
		if err := dec.Decode(x.out); err != nil {
			t.Fatalf("reading %q: %v", clip(x.in), err)
		}
	}
	return sameValue(a, b)
}

func sameValue(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			if gv, ok := g[k]; !ok || !sameValue(gv, wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		return ok && slices.EqualFunc(g, w, sameValue)
	case json.Number:
		g, ok := got.(json.Number)
		if !ok {
			return false
		}
		gf, _, err1 := big.ParseFloat(string(g), 10, 256, big.ToNearestEven)
		wf, _, err2 := big.ParseFloat(string(w), 10, 256, big.ToNearestEven)
		return err1 == nil && err2 == nil && gf.Cmp(wf) == 0
	case string:
		g, ok := got.(string)
		if !ok {
			return false
		}
		if loc := cutText.FindStringIndex(g); loc != nil {
			return loc[0] <= lighthouse.MaxFieldBytes && len(w) > loc[0] && strings.HasPrefix(w, g[:loc[0]])
		}
		return g == w
	}
	return got == want
}

func rowText(r fuzzRow) string {
	b, _ := json.Marshal(r)
	return clipStr(string(b))
}

func entryText(e *fuzzEntryWant) string {
	if e == nil {
		return "none"
	}
	return string(e.raw)
}

// clip keeps a failure's message readable: an answer may be megabytes.
func clip(b []byte) []byte {
	if len(b) > 2000 {
		return append(b[:2000:2000], "..."...)
	}
	return b
}

func clipStr(s string) string { return string(clip([]byte(s))) }

// close drops the process's database and Redis keys.
func (w *fuzzWorld) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if w.srv != nil {
		w.srv.Close()
	}
	if w.rdb != nil {
		var keys []string
		iter := w.rdb.Scan(ctx, 0, w.prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			_ = w.rdb.Del(ctx, keys...).Err()
		}
		_ = w.rdb.Close()
	}
	if w.db != nil {
		_ = db.Close(w.db)
		_ = dbtest.DropDatabase(ctx, w.dbURL)
	}
}
