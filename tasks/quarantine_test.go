package tasks_test

import (
	"context"
	"fmt"
	"math"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

const (
	refusedIDsAboveThis = 1_000_000 // the fake's MaxRequestID in these specs
)

// quarantineOf reads an upload's quarantine: its reason and detail, or ""
// when it is not quarantined.
func quarantineOf(ctx context.Context, id int64) (reason, detail string) {
	GinkgoHelper()
	var st []models.UploadPollState
	Expect(gdb.WithContext(ctx).Where("upload_id = ? AND quarantined_at IS NOT NULL", id).Find(&st).Error).To(Succeed())
	if len(st) == 0 {
		return "", ""
	}
	return *st[0].QuarantineReason, *st[0].QuarantineDetail
}

var _ = Describe("StatusBatchHandler with uploads that cannot be polled", func() {
	var (
		ctx     context.Context
		o       *observed
		lh      *lighthouseEnv
		handler *tasks.StatusBatchHandler
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		lh = startLighthouse(fake.Options{MaxRequestID: refusedIDsAboveThis})
		handler = &tasks.StatusBatchHandler{Poller: &polling.BatchPoller{Lighthouse: lh.Client, Updater: newUpdater(o)}, Metrics: o.Types, Logger: o.Logger}
	})

	process := func(ids ...string) error {
		GinkgoHelper()
		t, err := tasks.NewStatusBatchTask("tasks-test", "adhoc:spec", 0, ids)
		Expect(err).NotTo(HaveOccurred())
		return handler.ProcessTask(ctx, t)
	}
	// goodUploads seeds n uploads the fake completes, of every type.
	goodUploads := func(n int) ([]string, []models.Lighthouse526DocumentUpload) {
		ids := make([]string, n)
		ups := make([]models.Lighthouse526DocumentUpload, n)
		for i := range ids {
			ids[i] = lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			ups[i] = seedUpload(ctx, ids[i], models.DocumentTypes[i%4])
		}
		return ids, ups
	}
	expectCompleted := func(ups []models.Lighthouse526DocumentUpload) {
		GinkgoHelper()
		for _, u := range ups {
			Expect(reloadUpload(ctx, u.ID).AasmState).To(Equal(models.StateCompleted), "upload %d", u.ID)
		}
	}

	Context("when a row's document type is NULL or unknown", func() {
		var ids []string
		var good []models.Lighthouse526DocumentUpload
		var missing, unknown models.Lighthouse526DocumentUpload

		BeforeEach(func() {
			ids, good = goodUploads(3)
			missing = seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), models.DocumentTypeForm0781)
			unknown = seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), models.DocumentTypeForm0781)
			Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET document_type = NULL WHERE id = ?`, missing.ID).Error).To(Succeed())
			Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET document_type = 'Receipt' WHERE id = ?`, unknown.ID).Error).To(Succeed())
			ids = append(ids, missing.LighthouseDocumentRequestID, unknown.LighthouseDocumentRequestID)
		})

		It("leaves them out of the call, quarantines them, and polls the rest of the batch", func() {
			Expect(process(ids...)).To(Succeed())

			expectCompleted(good)
			Expect(lh.StatusCalls()).To(Equal(1))
			Expect(lh.Fake.Requests()).To(ContainElement(SatisfyAll(
				HaveField("Path", fake.APIPrefix+"/uploads/status"), HaveField("RequestIDs", ConsistOf(ids[:3])))))
			reason, detail := quarantineOf(ctx, missing.ID)
			Expect(reason).To(Equal(models.QuarantineMissingDocumentType))
			Expect(detail).To(ContainSubstring("NULL"))
			reason, detail = quarantineOf(ctx, unknown.ID)
			Expect(reason).To(Equal(models.QuarantineInvalidDocumentType))
			Expect(detail).To(ContainSubstring(`"Receipt"`))
			for _, u := range []models.Lighthouse526DocumentUpload{missing, unknown} {
				got := reloadUpload(ctx, u.ID)
				Expect(got.AasmState).To(Equal(models.StatePending))
				Expect(got.StatusLastPolledAt).To(BeNil())
			}
			Expect(o.Quarantined(models.QuarantineMissingDocumentType)).To(Equal(1.0))
			Expect(o.Quarantined(models.QuarantineInvalidDocumentType)).To(Equal(1.0))
			Expect(o.Logs.WithMessage(msgQuarantined)).To(ConsistOf(
				SatisfyAll(HaveKeyWithValue("upload_id", beNumber(float64(missing.ID))), HaveKeyWithValue("reason", models.QuarantineMissingDocumentType)),
				SatisfyAll(HaveKeyWithValue("upload_id", beNumber(float64(unknown.ID))), HaveKeyWithValue("reason", models.QuarantineInvalidDocumentType)),
			))
		})

		It("logs and counts each once: a second poll of the batch does not read them again", func() {
			Expect(process(ids...)).To(Succeed())
			Expect(process(ids...)).To(Succeed())

			Expect(o.Logs.WithMessage(msgQuarantined)).To(HaveLen(2))
			Expect(o.Quarantined(models.QuarantineMissingDocumentType)).To(Equal(1.0))
		})
	})

	Context("when every row of the batch is unpollable", func() {
		It("makes no call, quarantines them and counts the batch done in its cycle", func() {
			u := seedUpload(ctx, "41", models.DocumentTypeForm0781)
			Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET document_type = NULL WHERE id = ?`, u.ID).Error).To(Succeed())
			_, err := models.StartCycle(ctx, gdb, "adhoc:spec", testNow, testNow, testNow)
			Expect(err).NotTo(HaveOccurred())

			Expect(process("41")).To(Succeed())

			Expect(lh.StatusCalls()).To(BeZero())
			reason, _ := quarantineOf(ctx, u.ID)
			Expect(reason).To(Equal(models.QuarantineMissingDocumentType))
			var c models.PollingCycle
			Expect(gdb.Take(&c, "id = ?", "adhoc:spec").Error).To(Succeed())
			Expect(c.BatchesDone).To(Equal(1))
		})
	})

	Context("when Lighthouse refuses one id of 100 with 400", func() {
		// ceil(log2 100) calls to find it, one for the ids set aside.
		maxExtraCalls := int(math.Ceil(math.Log2(100))) + 1

		DescribeTable("finds it within ceil(log2 100)+1 more calls, quarantines it, and polls the other 99",
			func(at int) {
				ids, good := goodUploads(99)
				refused := seedUpload(ctx, fmt.Sprint(refusedIDsAboveThis+1+at), models.DocumentTypeForm0781)
				ids = append(ids[:at], append([]string{refused.LighthouseDocumentRequestID}, ids[at:]...)...)
				Expect(ids).To(HaveLen(100))

				Expect(process(ids...)).To(Succeed())

				Expect(lh.StatusCalls()).To(BeNumerically("<=", 1+maxExtraCalls))
				expectCompleted(good)
				reason, detail := quarantineOf(ctx, refused.ID)
				Expect(reason).To(Equal(models.QuarantineRefusedByLighthouse))
				Expect(detail).To(ContainSubstring("requestIds must be integers"))
				Expect(reloadUpload(ctx, refused.ID).AasmState).To(Equal(models.StatePending))
				Expect(o.Quarantined(models.QuarantineRefusedByLighthouse)).To(Equal(1.0))
				Expect(o.PollingErrors("http_400")).To(Equal(1.0))
				Expect(o.Logs.WithMessage(msgBatchRefused)).To(HaveLen(1))
				Expect(o.Logs.WithMessage(msgStatusEndpointError)).To(ConsistOf(HaveKeyWithValue("response_status", beNumber(400))))
				// Every good id was answered in exactly one call.
				answered := map[string]int{}
				for _, r := range lh.Fake.Requests() {
					if r.StatusCode == 200 {
						for _, id := range r.RequestIDs {
							answered[id]++
						}
					}
				}
				Expect(answered).To(HaveLen(99))
				Expect(answered).NotTo(ContainElement(BeNumerically(">", 1)))
			},
			Entry("first", 0),
			Entry("in the middle", 57),
			Entry("last", 99),
		)
	})

	Context("when Lighthouse refuses two ids of a batch", func() {
		It("quarantines both and polls the others", func() {
			ids, good := goodUploads(14)
			a := seedUpload(ctx, fmt.Sprint(refusedIDsAboveThis+10), models.DocumentTypeForm0781)
			b := seedUpload(ctx, fmt.Sprint(refusedIDsAboveThis+20), models.DocumentTypeBDDInstructions)
			ids = append([]string{a.LighthouseDocumentRequestID}, append(ids, b.LighthouseDocumentRequestID)...)

			Expect(process(ids...)).To(Succeed())

			expectCompleted(good)
			for _, u := range []models.Lighthouse526DocumentUpload{a, b} {
				reason, _ := quarantineOf(ctx, u.ID)
				Expect(reason).To(Equal(models.QuarantineRefusedByLighthouse))
			}
			Expect(o.Quarantined(models.QuarantineRefusedByLighthouse)).To(Equal(2.0))
		})
	})

	Context("when Lighthouse refuses every call with 400", func() {
		It("quarantines nothing, and archives the batch as before after a bounded number of calls", func() {
			ids, _ := goodUploads(100)
			lh.Fake.SetFaults(fake.Faults{ErrorRate: 1, StatusCodes: []int{400}, ErrorShapes: []string{fake.ShapeAPI}})

			err := process(ids...)

			Expect(err).To(MatchError(asynq.SkipRetry))
			Expect(lh.StatusCalls()).To(BeNumerically("<=", 1+int(math.Ceil(math.Log2(100)))+1))
			var n int64
			Expect(gdb.Model(&models.UploadPollState{}).Count(&n).Error).To(Succeed())
			Expect(n).To(BeZero())
			Expect(o.PollingErrors("http_400")).To(Equal(1.0))
			for _, id := range ids[:3] {
				Expect(models.UploadsByRequestID(ctx, gdb, id)).To(ConsistOf(HaveField("StatusLastPolledAt", BeNil())))
			}
		})
	})

	Context("when a batch of one id is refused with 400", func() {
		It("cannot tell it from a refusal of every call: archives it as before, quarantining nothing", func() {
			u := seedUpload(ctx, fmt.Sprint(refusedIDsAboveThis+1), models.DocumentTypeForm0781)

			Expect(process(u.LighthouseDocumentRequestID)).To(MatchError(asynq.SkipRetry))

			Expect(lh.StatusCalls()).To(Equal(1))
			reason, _ := quarantineOf(ctx, u.ID)
			Expect(reason).To(BeEmpty())
		})
	})

	Context("when the batch has a bad row", func() {
		var statements dbtest.StatementCounter

		BeforeEach(func(ctx SpecContext) {
			pool, err := db.Open(ctx, db.Options{URL: gdbURL, MaxOpenConns: 4, WrapConn: statements.Wrap})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(db.Close, pool)
			handler.Poller.Updater.DB = pool
		})

		It("still reads and writes it in two statements, the quarantine in the write", func() {
			ids, good := goodUploads(5)
			bad := seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), models.DocumentTypeForm0781)
			Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET document_type = NULL WHERE id = ?`, bad.ID).Error).To(Succeed())
			statements.Reset()

			Expect(process(append(ids, bad.LighthouseDocumentRequestID)...)).To(Succeed())

			Expect(statements.Load()).To(Equal(int64(2)))
			expectCompleted(good)
			reason, _ := quarantineOf(ctx, bad.ID)
			Expect(reason).To(Equal(models.QuarantineMissingDocumentType))
		})
	})
})
