package spec_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/vagov/rails"
)

// vagovDatabase is a database of the spec's own where ActiveRecord made
// VA.gov's tables (dbtest.VAGovDatabase), dropped after the spec, and its URL.
func vagovDatabase(ctx context.Context, name string) (*gorm.DB, string) {
	GinkgoHelper()
	gdb, url, err := dbtest.VAGovDatabase(ctx, fmt.Sprintf("%s_%d", name, GinkgoParallelProcess()))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) {
		Expect(db.Close(gdb)).To(Succeed())
		Expect(dbtest.DropDatabase(ctx, url)).To(Succeed())
	})
	return gdb, url
}

// railsUpload is one row of lighthouse526_document_uploads as vets-api's
// Rails reads it: vagov/rails/read_uploads.rb, through ActiveRecord models
// of the three tables.
type railsUpload struct {
	ID                          int64      `json:"id"`
	AasmState                   *string    `json:"aasm_state"`
	DocumentType                string     `json:"document_type"`
	LighthouseDocumentRequestID string     `json:"lighthouse_document_request_id"`
	Form526SubmissionID         int64      `json:"form526_submission_id"`
	SubmissionUserUUID          *string    `json:"submission_user_uuid"`
	FormAttachmentID            *int64     `json:"form_attachment_id"`
	FormAttachmentGUID          *string    `json:"form_attachment_guid"`
	FormAttachmentClass         *string    `json:"form_attachment_class"`
	StartedAt                   *railsTime `json:"lighthouse_processing_started_at"`
	EndedAt                     *railsTime `json:"lighthouse_processing_ended_at"`
	PolledAt                    *railsTime `json:"status_last_polled_at"`
	CreatedAt                   *railsTime `json:"created_at"`
	UpdatedAt                   *railsTime `json:"updated_at"`
	ErrorMessage                railsValue `json:"error_message"`
	LastStatusResponse          railsValue `json:"last_status_response"`
	Valid                       bool       `json:"valid"`
	Errors                      []string   `json:"errors"`
	Changed                     bool       `json:"changed"`
}

// railsTime is a time attribute as ActiveRecord typed it.
type railsTime struct {
	ISO8601      string `json:"iso8601"` // Time#iso8601(6), in the zone Rails read it in
	UTC          bool   `json:"utc"`
	Zone         string `json:"zone"`
	TimeWithZone bool   `json:"time_with_zone"`
}

// at parses the time Rails read.
func (t *railsTime) at() time.Time {
	GinkgoHelper()
	Expect(t).NotTo(BeNil())
	at, err := time.Parse(time.RFC3339Nano, t.ISO8601)
	Expect(err).NotTo(HaveOccurred())
	return at
}

// railsValue is a jsonb attribute as ActiveRecord typed it: its Ruby class
// and its value.
type railsValue struct {
	Class string          `json:"class"`
	Value json.RawMessage `json:"value"`
}

// readByRails returns every upload of the database at url as Rails reads
// it, by request id.
func readByRails(ctx context.Context, url string) map[string]railsUpload {
	GinkgoHelper()
	out, err := rails.Ruby(ctx, url, "read_uploads.rb")
	Expect(err).NotTo(HaveOccurred())
	rows := map[string]railsUpload{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var u railsUpload
		Expect(json.Unmarshal(sc.Bytes(), &u)).To(Succeed(), sc.Text())
		rows[u.LighthouseDocumentRequestID] = u
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	return rows
}

// railsTimeFormat is Ruby's Time#iso8601(6) of a UTC time.
const railsTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// expectRailsReads checks one upload as Rails read it after a poll that ran
// between polledFrom and polledTo: its state, its times as Rails reads a
// timestamp(6) without zone (UTC, the Lighthouse milliseconds cut to the
// second, as the original stored them), and its jsonb columns as Ruby
// hashes equal to the status the fake served (status; nil when Lighthouse
// did not know the id), and that the model would save it as it is.
func expectRailsReads(u railsUpload, state string, status json.RawMessage, polledFrom, polledTo time.Time) {
	GinkgoHelper()
	Expect(u.AasmState).To(HaveValue(Equal(state)), "aasm_state")
	Expect(u.Valid).To(BeTrue(), "Rails' validations: %v", u.Errors)
	Expect(u.Changed).To(BeFalse(), "dirty just after being read")

	for name, t := range map[string]*railsTime{"status_last_polled_at": u.PolledAt, "updated_at": u.UpdatedAt, "created_at": u.CreatedAt} {
		Expect(t).NotTo(BeNil(), name)
		Expect(t.UTC).To(BeTrue(), name)
		Expect(t.Zone).To(Equal("UTC"), name)
		Expect(t.TimeWithZone).To(BeTrue(), name)
	}
	Expect(u.PolledAt.at()).To(BeTemporally(">=", polledFrom.Truncate(time.Microsecond)), "status_last_polled_at")
	Expect(u.PolledAt.at()).To(BeTemporally("<=", polledTo), "status_last_polled_at")
	Expect(u.UpdatedAt.ISO8601).To(Equal(u.PolledAt.ISO8601), "updated_at is the poll's time")

	if status == nil {
		Expect(u.StartedAt).To(BeNil(), "lighthouse_processing_started_at")
		Expect(u.EndedAt).To(BeNil(), "lighthouse_processing_ended_at")
		Expect(u.LastStatusResponse.Class).To(Equal("NilClass"), "last_status_response")
		Expect(u.ErrorMessage.Class).To(Equal("NilClass"), "error_message")
		return
	}
	var served struct {
		Time struct {
			StartTime int64  `json:"startTime"`
			EndTime   *int64 `json:"endTime"`
		} `json:"time"`
		Error json.RawMessage `json:"error"`
	}
	Expect(json.Unmarshal(status, &served)).To(Succeed())
	toSecond := func(ms int64) string { return time.Unix(ms/1000, 0).UTC().Format(railsTimeFormat) }

	Expect(u.StartedAt).NotTo(BeNil(), "lighthouse_processing_started_at")
	Expect(u.StartedAt.ISO8601).To(Equal(toSecond(served.Time.StartTime)), "lighthouse_processing_started_at")
	Expect(u.StartedAt.UTC).To(BeTrue())
	if served.Time.EndTime == nil {
		Expect(u.EndedAt).To(BeNil(), "lighthouse_processing_ended_at")
	} else {
		Expect(u.EndedAt).NotTo(BeNil(), "lighthouse_processing_ended_at")
		Expect(u.EndedAt.ISO8601).To(Equal(toSecond(*served.Time.EndTime)), "lighthouse_processing_ended_at")
		Expect(u.EndedAt.UTC).To(BeTrue())
	}

	Expect(u.LastStatusResponse.Class).To(Equal("Hash"), "last_status_response")
	Expect(u.LastStatusResponse.Value).To(MatchJSON(status), "last_status_response")
	if state == "failed" {
		Expect(u.ErrorMessage.Class).To(Equal("Hash"), "error_message")
		Expect(u.ErrorMessage.Value).To(MatchJSON(served.Error), "error_message")
	} else {
		Expect(u.ErrorMessage.Class).To(Equal("NilClass"), "error_message")
	}
}

// servedStatus is the status object the fake serves for a request id.
func servedStatus(f *fake.Server, id string) json.RawMessage {
	GinkgoHelper()
	b, ok := f.StatusJSON(id)
	Expect(ok).To(BeTrue(), "the fake knows %s", id)
	return b
}
