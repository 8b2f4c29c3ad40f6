package polling_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
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

var _ = Describe("A failed Veteran Upload without an attachment", func() {
	It("fails, writes no follow-up with an empty guid, and is logged and counted instead", func(ctx SpecContext) {
		o := newObserved()
		updater := newUpdater(o)
		updater.Emails = polling.EmailsAlways(true)
		orphan := seedUpload(ctx, "16819", models.DocumentTypeVeteranUpload)
		Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET form_attachment_id = NULL WHERE id = ?`, orphan.ID).Error).To(Succeed())
		other := seedUpload(ctx, "22", models.DocumentTypeVeteranUpload)
		failedOther := `{"requestId":22,"time":{"startTime":1718902851802,"endTime":1720793267285},"status":"FAILED","error":{"detail":"x","step":"BENEFITS_GATEWAY_SERVICE"}}`

		sum, err := applyAnswer(ctx, updater, o.Logger, "", []string{"16819", "22"}, decodeStatuses(statusBody([]string{recordedFailed, failedOther})))

		Expect(err).NotTo(HaveOccurred())
		Expect(sum.Failed).To(Equal(2))
		Expect(sum.Notifications).To(Equal(1))
		Expect(reloadUpload(ctx, orphan.ID).AasmState).To(Equal(models.StateFailed))
		Expect(outboxEntries(ctx)).To(ConsistOf(HaveField("UploadID", other.ID)))
		Expect(testutil.ToFloat64(o.Metrics.NotificationsSkipped.WithLabelValues("no_form_attachment"))).To(Equal(1.0))
		Expect(o.Logs.WithMessage(msgNoFollowUp)).To(ConsistOf(SatisfyAll(
			HaveKeyWithValue("reason", "no_form_attachment"),
			HaveKeyWithValue("upload_id", beNumber(float64(orphan.ID))),
			Not(HaveKey("user_uuid")),
		)))
	})
})

var _ = Describe("Cycle.Run with request ids no batch may carry", func() {
	It("quarantines them, and fans the rest out in full batches of valid ids", func(ctx SpecContext) {
		o := newObserved()
		cycle := &polling.Cycle{
			DB: gdb, Metrics: o.Metrics, Now: func() time.Time { return time.Now().UTC() },
			BatchSize: 3, Window: time.Hour, Grace: 5 * time.Minute, StaleAfter: 30 * time.Minute,
		}
		var ids []string
		for i := range 6 {
			id := fmt.Sprint(500 + i)
			if i == 1 {
				seedUpload(ctx, "abc", models.DocumentTypeForm0781)
			}
			if i == 4 {
				seedUpload(ctx, "99999999999999999999", models.DocumentTypeBDDInstructions)
			}
			seedUpload(ctx, id, models.DocumentTypeForm0781)
			ids = append(ids, id)
		}
		var batches [][]string

		res, err := cycle.Run(ctx, o.Logger, "adhoc:fan-out", time.Now(), func(_ context.Context, b polling.Batch) error {
			batches = append(batches, b.RequestIDs)
			return nil
		})

		Expect(err).NotTo(HaveOccurred())
		Expect(batches).To(Equal([][]string{ids[:3], ids[3:]}))
		Expect(res.DocumentsDue).To(Equal(6))
		Expect(res.Quarantined).To(Equal(2))
		Expect(o.Quarantined(models.QuarantineInvalidRequestID)).To(Equal(2.0))
		for _, bad := range []string{"abc", "99999999999999999999"} {
			ups, err := models.UploadsByRequestID(ctx, gdb, bad)
			Expect(err).NotTo(HaveOccurred())
			reason, detail := quarantineOf(ctx, ups[0].ID)
			Expect(reason).To(Equal(models.QuarantineInvalidRequestID))
			Expect(detail).To(ContainSubstring(`"` + bad + `"`))
		}
		Expect(o.Logs.WithMessage(msgQuarantined)).To(HaveLen(2))

		// The next cycle does not read them again.
		res, err = cycle.Run(ctx, o.Logger, "adhoc:fan-out-2", time.Now(), func(context.Context, polling.Batch) error { return nil })
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Quarantined).To(BeZero())
		Expect(o.Logs.WithMessage(msgQuarantined)).To(HaveLen(2))
	})
})
