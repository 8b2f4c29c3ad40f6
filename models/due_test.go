package models_test

import (
	"context"
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/vagov/lighthouse526/models"
)

func idsOf(due []models.DueUpload) []int64 {
	out := make([]int64, 0, len(due))
	for _, d := range due {
		out = append(out, d.ID)
	}
	return out
}

var _ = Describe("NextDueBatch", func() {
	var (
		ctx       context.Context
		dueBefore time.Time // a 1-hour window
	)

	BeforeEach(func() {
		ctx = context.Background()
		dueBefore = now.Add(-time.Hour)
	})

	Context("when uploads were polled at various times", func() {
		var neverPolled, polled2hAgo, polled42mAgo *models.Lighthouse526DocumentUpload

		BeforeEach(func() {
			neverPolled = createUpload()
			polled2hAgo = createUpload(withPolledAt(now.Add(-2 * time.Hour)))
			polled42mAgo = createUpload(withPolledAt(now.Add(-42 * time.Minute)))
		})

		It("returns the never-polled and the polled-2-hours-ago, not the polled-42-minutes-ago", func() {
			due, err := models.NextDueBatch(ctx, gdb, 0, dueBefore, now, 100)
			Expect(err).NotTo(HaveOccurred())

			Expect(idsOf(due)).To(Equal([]int64{neverPolled.ID, polled2hAgo.ID}))
			Expect(due[0].LighthouseDocumentRequestID).To(Equal(neverPolled.LighthouseDocumentRequestID))
			Expect(idsOf(due)).NotTo(ContainElement(polled42mAgo.ID))
		})
	})

	DescribeTable("when an upload is final",
		func(state string) {
			neverPolled := createUpload()
			setState(neverPolled.ID, state)
			longAgo := createUpload(withPolledAt(now.Add(-48 * time.Hour)))
			setState(longAgo.ID, state)

			due, err := models.NextDueBatch(ctx, gdb, 0, dueBefore, now, 100)

			Expect(err).NotTo(HaveOccurred())
			Expect(due).To(BeEmpty())
		},
		Entry("completed, it is never due", models.StateCompleted),
		Entry("failed, it is never due", models.StateFailed),
	)

	Context("when an upload is quarantined", func() {
		It("leaves it out, however long ago it was polled, and pages on past it", func() {
			before := createUpload()
			quarantined := createUpload(withPolledAt(now.Add(-48 * time.Hour)))
			after := createUpload()
			quarantineUpload(quarantined.ID)

			due, err := models.NextDueBatch(ctx, gdb, 0, dueBefore, now, 100)

			Expect(err).NotTo(HaveOccurred())
			Expect(idsOf(due)).To(Equal([]int64{before.ID, after.ID}))
		})

		It("is due again once released", func() {
			u := createUpload()
			quarantineUpload(u.ID)
			_, err := models.ReleaseUpload(ctx, gdb, u.ID, now)
			Expect(err).NotTo(HaveOccurred())

			due, err := models.NextDueBatch(ctx, gdb, 0, dueBefore, now, 100)

			Expect(err).NotTo(HaveOccurred())
			Expect(idsOf(due)).To(Equal([]int64{u.ID}))
		})
	})

	Context("when more uploads are due than a page holds", func() {
		var dueIDs []int64

		BeforeEach(func() {
			dueIDs = nil
			for i := range 25 {
				dueIDs = append(dueIDs, createUpload().ID)
				// Not due, interleaved.
				createUpload(withPolledAt(now.Add(-10 * time.Minute)))
				if i%5 == 0 {
					setState(createUpload().ID, models.StateCompleted)
				}
			}
		})

		It("pages through every due upload once, in id order, with the keyset cursor", func() {
			var (
				seen  []int64
				pages []int
				after int64
			)
			for {
				page, err := models.NextDueBatch(ctx, gdb, after, dueBefore, now, 10)
				Expect(err).NotTo(HaveOccurred())
				if len(page) == 0 {
					break
				}
				pages = append(pages, len(page))
				seen = append(seen, idsOf(page)...)
				after = page[len(page)-1].ID
				Expect(len(pages)).To(BeNumerically("<=", 3), "the scan does not end")
			}

			Expect(pages).To(Equal([]int{10, 10, 5}))
			Expect(seen).To(Equal(dueIDs))
		})
	})

	Context("when there are tens of thousands of uploads", func() {
		// With ~50k rows, a few hundred of them quarantined, and fresh
		// statistics, the planner walks the partial due index in id order,
		// beside the partial index of quarantines, and stops at the limit.
		BeforeEach(func() {
			submission := createSubmission()
			Expect(gdb.Exec(`
INSERT INTO lighthouse526_document_uploads (form526_submission_id, lighthouse_document_request_id, aasm_state,
            document_type, status_last_polled_at, created_at, updated_at)
SELECT ?, g::text,
       CASE WHEN g % 10 = 0 THEN 'pending' WHEN g % 10 = 1 THEN 'failed' ELSE 'completed' END,
       'Form 0781',
       CASE g % 3 WHEN 0 THEN NULL WHEN 1 THEN ?::timestamp ELSE ?::timestamp END,
       now(), now()
  FROM generate_series(1, 50000) AS g`, submission.ID, now.Add(-2*time.Hour), now.Add(-10*time.Minute)).Error).To(Succeed())
			Expect(gdb.Exec(`
INSERT INTO lighthouse526_upload_poll_states (upload_id, quarantined_at, quarantine_reason, created_at, updated_at)
SELECT id, now(), 'invalid_request_id', now(), now()
  FROM lighthouse526_document_uploads WHERE aasm_state = 'pending' AND id % 100 = 0`).Error).To(Succeed())
			Expect(gdb.Exec(`ANALYZE lighthouse526_document_uploads, lighthouse526_upload_poll_states`).Error).To(Succeed())
		})

		It("plans NextDueBatch's query on index_lighthouse526_document_uploads_due", func() {
			capture := &sqlCapture{Interface: logger.Discard}
			due, err := models.NextDueBatch(ctx, gdb.Session(&gorm.Session{Logger: capture}), 0, dueBefore, now, 100)
			Expect(err).NotTo(HaveOccurred())
			Expect(due).To(HaveLen(100))
			Expect(capture.sql).To(ContainSubstring("FROM lighthouse526_document_uploads"))

			var planText string
			Expect(gdb.Raw("EXPLAIN (FORMAT JSON) " + capture.sql).Scan(&planText).Error).To(Succeed())
			var plan []struct{ Plan planNode }
			Expect(json.Unmarshal([]byte(planText), &plan)).To(Succeed())
			Expect(plan).To(HaveLen(1))

			Expect(plan[0].Plan.indexNames()).To(ConsistOf(
				"index_lighthouse526_document_uploads_due", "index_lighthouse526_upload_poll_states_quarantined"), planText)
			Expect(plan[0].Plan.nodeTypes()).NotTo(ContainElement(BeElementOf("Sort", "Seq Scan")), planText)
		})
	})
})

var _ = Describe("PendingUploadsOfSubmission", func() {
	It("returns the submission's pending uploads, in id order, up to the limit", func() {
		first := createUpload()
		same := func(u *models.Lighthouse526DocumentUpload) { u.Form526SubmissionID = first.Form526SubmissionID }
		second := createUpload(same)
		completed := createUpload(same)
		setState(completed.ID, models.StateCompleted)
		createUpload(same)
		createUpload() // another submission

		got, err := models.PendingUploadsOfSubmission(context.Background(), gdb, first.Form526SubmissionID, 2)

		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([]models.DueUpload{
			{ID: first.ID, LighthouseDocumentRequestID: first.LighthouseDocumentRequestID},
			{ID: second.ID, LighthouseDocumentRequestID: second.LighthouseDocumentRequestID},
		}))
	})

	It("leaves quarantined uploads out", func() {
		first := createUpload()
		second := createUpload(func(u *models.Lighthouse526DocumentUpload) { u.Form526SubmissionID = first.Form526SubmissionID })
		quarantineUpload(first.ID)

		got, err := models.PendingUploadsOfSubmission(context.Background(), gdb, first.Form526SubmissionID, 10)

		Expect(err).NotTo(HaveOccurred())
		Expect(idsOf(got)).To(Equal([]int64{second.ID}))
	})
})

// sqlCapture is a GORM logger that keeps the last statement, with its
// values in place.
type sqlCapture struct {
	logger.Interface
	sql string
}

func (c *sqlCapture) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	c.sql, _ = fc()
}

// planNode is one node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType  string     `json:"Node Type"`
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}

func (n planNode) walk(visit func(planNode)) {
	visit(n)
	for _, c := range n.Plans {
		c.walk(visit)
	}
}

func (n planNode) indexNames() []string {
	var out []string
	n.walk(func(p planNode) {
		if p.IndexName != "" {
			out = append(out, p.IndexName)
		}
	})
	return out
}

func (n planNode) nodeTypes() []string {
	var out []string
	n.walk(func(p planNode) { out = append(out, p.NodeType) })
	return out
}
