package simulate_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/worker/simulate"
)

// seedFinished adds n finished uploads whose processing took 1, 2, …, n
// minutes, every tenth one failed, with request ids from 900001.
func seedFinished(n int) {
	GinkgoHelper()
	Expect(gdb.Exec(`INSERT INTO form526_submissions (id, created_at, updated_at) VALUES (1, now(), now())
		ON CONFLICT DO NOTHING`).Error).To(Succeed())
	Expect(gdb.Exec(`
INSERT INTO lighthouse526_document_uploads (form526_submission_id, lighthouse_document_request_id, aasm_state, document_type,
       lighthouse_processing_started_at, lighthouse_processing_ended_at, created_at, updated_at)
SELECT 1, (900000 + g)::text, CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'completed' END, 'BDD Instructions',
       timestamp '2026-01-05 10:00', timestamp '2026-01-05 10:00' + g * interval '1 minute',
       timestamp '2026-01-05 10:00', timestamp '2026-01-05 10:00'
  FROM generate_series(1, ?) g`, n).Error).To(Succeed())
}

// seedPending adds n pending uploads created age ago.
func seedPending(n int, age time.Duration) {
	GinkgoHelper()
	Expect(gdb.Exec(`INSERT INTO form526_submissions (id, created_at, updated_at) VALUES (1, now(), now())
		ON CONFLICT DO NOTHING`).Error).To(Succeed())
	Expect(gdb.Exec(`
INSERT INTO lighthouse526_document_uploads (form526_submission_id, lighthouse_document_request_id, aasm_state, document_type,
       lighthouse_processing_started_at, created_at, updated_at)
SELECT 1, (800000 + g)::text, 'pending', 'BDD Instructions', c, c, c
  FROM generate_series(1, ?) g, (SELECT (now() AT TIME ZONE 'UTC') - ? * interval '1 second') t(c)`, n, age.Seconds()).Error).To(Succeed())
}

var _ = Describe("FitFromDB", func() {
	ctx := context.Background()

	Context("when the database has enough finished uploads", func() {
		BeforeEach(func() {
			seedFinished(300)
			// Neither finished nor stuck: pending a day, and one finished
			// without a start time.
			seedPending(7, 24*time.Hour)
			Expect(gdb.Exec(`INSERT INTO lighthouse526_document_uploads (form526_submission_id, lighthouse_document_request_id,
				aasm_state, document_type, lighthouse_processing_ended_at, created_at, updated_at)
				VALUES (1, '700001', 'completed', 'BDD Instructions', now(), now(), now())`).Error).To(Succeed())
		})

		It("draws from their processing times and failures, and the default never-finishing share", func() {
			e, err := simulate.FitFromDB(ctx, gdb, 0.02)
			Expect(err).NotTo(HaveOccurred())
			Expect(e.Durations).To(HaveLen(300))
			sorted := slices.Sorted(slices.Values(e.Durations))
			Expect(sorted[0]).To(Equal(time.Minute))
			Expect(sorted[299]).To(Equal(300 * time.Minute))
			Expect(e.FailedShare()).To(BeNumerically("~", 0.1, 1e-9))
			Expect(e.Never).To(Equal(0.02))
			Expect(e.NeverFromDB).To(BeFalse())
			Expect(e.Describe()).To(ContainSubstring("the default"))
		})

		It("takes the never-finishing share from the uploads pending over a week, of all", func() {
			seedPending(12, 8*24*time.Hour)
			e, err := simulate.FitFromDB(ctx, gdb, 0.02)
			Expect(err).NotTo(HaveOccurred())
			Expect(e.NeverFromDB).To(BeTrue())
			Expect(e.Never).To(BeNumerically("~", 12.0/(300+7+1+12), 1e-9))
		})

		It("simulates on them, printing no identifier", func() {
			e, err := simulate.FitFromDB(ctx, gdb, 0.02)
			Expect(err).NotTo(HaveOccurred())
			o := small()
			o.Processing = e
			res := run(o)
			Expect(res.Adaptive().Undetected).To(BeZero())
			// Every processing time is 1 to 300 minutes: all end within 5
			// hours, so the fixed strategy's latency stays within its period.
			Expect(res.Fixed().LatencyMax).To(BeNumerically("<=", 60))
			var out bytes.Buffer
			Expect(simulate.WriteText(&out, res)).To(Succeed())
			Expect(out.String()).To(ContainSubstring("fitted from the database: 300 finished uploads"))
			Expect(out.String()).NotTo(MatchRegexp(`[789]0000\d|[789]00,0\d\d`))
		})
	})

	Context("when the database has too few finished uploads", func() {
		BeforeEach(func() {
			seedFinished(42)
			seedPending(5, 8*24*time.Hour)
		})

		It("refuses, saying how many it found", func() {
			_, err := simulate.FitFromDB(ctx, gdb, 0.02)
			var few *simulate.TooFewRowsError
			Expect(errors.As(err, &few)).To(BeTrue())
			Expect(few.Found).To(Equal(42))
			Expect(err.Error()).To(ContainSubstring("found 42 completed or failed uploads"))
			Expect(err.Error()).To(ContainSubstring("at least 200"))
		})
	})
})
