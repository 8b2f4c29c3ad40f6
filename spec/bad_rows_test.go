package spec_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

const (
	logQuarantined    = "quarantined an upload that cannot be polled: it is left out of polling until its row is fixed and it is released (worker uploads release)"
	metricQuarantined = "form526_document_upload_quarantined_total"
)

// stuckUpload is one entry of `worker uploads stuck --json`.
type stuckUpload struct {
	ID               int64   `json:"id"`
	Reason           string  `json:"reason"`
	QuarantineReason *string `json:"quarantine_reason"`
	QuarantineDetail *string `json:"quarantine_detail"`
}

// run runs a worker command to its end and returns its session.
func (w *world) run(args []string, extra ...string) *gexec.Session {
	session := w.start(args, extra...)
	Eventually(session).WithTimeout(2 * time.Minute).Should(gexec.Exit())
	return session
}

// stuck runs `worker uploads stuck --json`.
func (w *world) stuck() []stuckUpload {
	session := w.run([]string{"uploads", "stuck", "--json", "--limit", "1000"})
	Expect(session.ExitCode()).To(Equal(0), string(session.Err.Contents()))
	var out []stuckUpload
	Expect(json.Unmarshal(session.Out.Contents(), &out)).To(Succeed())
	return out
}

// One bad row never blocks its batch: the repro, against the real
// binary. A pending row with request id 'abc', one with an id past int64 and
// one with a NULL document type, beside good ones in the same batch.
var _ = Describe("A batch with rows that cannot be polled", func() {
	var (
		w              *world
		good           []int64
		abc, huge, nul int64
	)

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		var ups []upload
		for i := range 17 {
			ups = append(ups, upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), documentType: models.DocumentTypes[i%3]})
		}
		good = seedUploads(ctx, ups...)
		bad := seedUploads(ctx,
			upload{requestID: "abc"},
			upload{requestID: "99999999999999999999"},
			upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})})
		abc, huge, nul = bad[0], bad[1], bad[2]
		Expect(gdb.WithContext(ctx).Exec(`UPDATE lighthouse526_document_uploads SET document_type = NULL WHERE id = ?`, nul).Error).To(Succeed())
	})

	expectQuarantined := func(ctx context.Context) {
		GinkgoHelper()
		for _, id := range good {
			Expect(loadUpload(ctx, id).AasmState).To(Equal(models.StateCompleted), "upload %d", id)
		}
		for _, id := range []int64{abc, huge, nul} {
			u := loadUpload(ctx, id)
			Expect(u.AasmState).To(Equal(models.StatePending))
			Expect(u.StatusLastPolledAt).To(BeNil())
		}
		// Lighthouse was never asked about them, and never refused a call.
		Expect(w.statusCalls(400)).To(BeEmpty())
		Expect(w.timesAsked()).NotTo(HaveKey(BeElementOf("abc", "99999999999999999999")))

		reasons := map[int64]string{}
		for _, s := range w.stuck() {
			Expect(s.Reason).To(Equal("quarantined"))
			Expect(s.QuarantineDetail).To(HaveValue(Not(BeEmpty())))
			reasons[s.ID] = *s.QuarantineReason
		}
		Expect(reasons).To(Equal(map[int64]string{
			abc:  models.QuarantineInvalidRequestID,
			huge: models.QuarantineInvalidRequestID,
			nul:  models.QuarantineMissingDocumentType,
		}))
	}

	It("polls every good row in the first cycle and quarantines the bad ones (worker run)", func(ctx SpecContext) {
		worker := w.startWorker("--no-scheduler")

		sum := w.pollWait()

		Expect(sum).To(HaveKeyWithValue("completed", BeNumerically("==", 17)))
		expectQuarantined(ctx)
		Eventually(worker.metricFunc(metricQuarantined, map[string]string{"reason": "invalid_request_id"})).Should(BeNumerically("==", 2))
		Expect(worker.metric(metricQuarantined, map[string]string{"reason": "missing_document_type"})).To(BeNumerically("==", 1))
		Expect(worker.logsWith(logQuarantined)).To(HaveLen(3))

		By("running the next cycle, which reads them no more")
		Expect(w.pollWait()).To(HaveKeyWithValue("due", BeNumerically("==", 0)))
		Expect(worker.logsWith(logQuarantined)).To(HaveLen(3))
	})

	It("polls every good row and quarantines the bad ones with `worker poll --now`, which says so", func(ctx SpecContext) {
		session := w.run([]string{"poll", "--now", "--json"})

		Expect(session.ExitCode()).To(Equal(0), string(session.Err.Contents()))
		var sum map[string]any
		Expect(json.Unmarshal(session.Out.Contents(), &sum)).To(Succeed())
		Expect(sum).To(HaveKeyWithValue("polled", BeNumerically("==", 17)))
		Expect(sum).To(HaveKeyWithValue("completed", BeNumerically("==", 17)))
		Expect(sum).To(HaveKeyWithValue("quarantined", BeNumerically("==", 3)))
		Expect(sum).To(HaveKeyWithValue("errors", BeNumerically("==", 0)))
		expectQuarantined(ctx)
	})

	Context("when an operator fixes a row and releases it", func() {
		It("polls it in the next cycle; a release of an upload not quarantined exits 3", func(ctx SpecContext) {
			Expect(w.run([]string{"poll", "--now"}).ExitCode()).To(Equal(0))
			Expect(gdb.WithContext(ctx).Exec(`UPDATE lighthouse526_document_uploads SET document_type = 'Form 0781' WHERE id = ?`, nul).Error).To(Succeed())

			released := w.run([]string{"uploads", "release", fmt.Sprint(nul)})

			Expect(released.ExitCode()).To(Equal(0), string(released.Err.Contents()))
			Expect(string(released.Out.Contents())).To(ContainSubstring(fmt.Sprintf("released upload %d", nul)))
			Expect(string(released.Out.Contents())).NotTo(ContainSubstring("warning"))
			Expect(w.stuck()).To(HaveLen(2))
			Expect(w.run([]string{"poll", "--now"}).ExitCode()).To(Equal(0))
			Expect(loadUpload(ctx, nul).AasmState).To(Equal(models.StateCompleted))

			again := w.run([]string{"uploads", "release", fmt.Sprint(nul)})
			Expect(again.ExitCode()).To(Equal(3))
			Expect(string(again.Err.Contents())).To(ContainSubstring(fmt.Sprintf("upload %d is not quarantined", nul)))
		})

		It("warns when the row was released before it was fixed", func() {
			Expect(w.run([]string{"poll", "--now"}).ExitCode()).To(Equal(0))

			released := w.run([]string{"uploads", "release", fmt.Sprint(abc)})

			Expect(released.ExitCode()).To(Equal(0))
			Expect(string(released.Out.Contents())).To(ContainSubstring("warning: its row is still wrong (invalid_request_id"))
		})
	})
})

var _ = Describe("`worker poll --now` when a batch fails", func() {
	It("exits non-zero and says which batch failed and why", func(ctx SpecContext) {
		w := newWorld()
		w.env["POLL_BATCH_SIZE"] = "2"
		var ups []upload
		for range 3 {
			ups = append(ups, upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})})
		}
		seedUploads(ctx, ups...)
		// The first call, the first batch's, fails; the second batch's passes.
		w.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 500, Shape: fake.ShapeAPI}}})

		session := w.run([]string{"poll", "--now", "--json"})

		Expect(session.ExitCode()).To(Equal(1))
		stderr := string(session.Err.Contents())
		Expect(stderr).To(ContainSubstring("1 of 2 batches failed"))
		Expect(stderr).To(MatchRegexp(`batch 0 \(2 request ids from upload \d+\): .*HTTP 500`))
		var sum map[string]any
		Expect(json.Unmarshal(session.Out.Contents(), &sum)).To(Succeed())
		Expect(sum).To(HaveKeyWithValue("errors", BeNumerically("==", 1)))
		Expect(sum).To(HaveKeyWithValue("polled", BeNumerically("==", 1)))
		Expect(sum).To(HaveKeyWithValue("batch_errors", ConsistOf(ContainSubstring("HTTP 500"))))
	})
})

var _ = Describe("POLL_CRON", func() {
	var w *world

	BeforeEach(func() {
		w = newWorld()
	})

	DescribeTable("a schedule that cannot run cycles stops `worker config` and `worker run` alike, with exit 2 and why",
		func(spec, why string) {
			for _, cmd := range []string{"config", "run"} {
				session := w.start([]string{cmd}, "POLL_CRON="+spec, "METRICS_ADDR="+freeAddr())
				Eventually(session).WithTimeout(30*time.Second).Should(gexec.Exit(2), "worker %s", cmd)
				Expect(string(session.Err.Contents())).To(ContainSubstring("POLL_CRON: "+why), "worker %s", cmd)
			}
		},
		Entry("one that never fires", "0 0 30 2 *", "never fires"),
		Entry("one that fires every 10 seconds", "@every 10s", "fires every 10s, more often than once a minute"),
		Entry("two time zones", "CRON_TZ=UTC CRON_TZ=UTC 15 * * * *", "not a cron schedule"),
	)

	It("lets `worker config` and `worker run` accept the same CRON_TZ= schedule", func() {
		w.env["POLL_CRON"] = "CRON_TZ=America/New_York 15 9 * * *"
		config := w.run([]string{"config"})
		Expect(config.ExitCode()).To(Equal(0), string(config.Err.Contents()))
		Expect(string(config.Out.Contents())).To(ContainSubstring("CRON_TZ=America/New_York 15 9 * * *"))

		worker := w.startWorker()
		Expect(worker.logsWith("worker started")).To(ContainElement(havePayload(HaveKeyWithValue("poll_cron", "CRON_TZ=America/New_York 15 9 * * *"))))
	})

	It("allows a sub-minute schedule with POLL_CRON_ALLOW_SUBMINUTE=true", func() {
		w.env["POLL_CRON"] = "@every 30s"
		w.env["POLL_CRON_ALLOW_SUBMINUTE"] = "true"
		Expect(w.run([]string{"config"}).ExitCode()).To(Equal(0))
		w.startWorker()
	})
})
