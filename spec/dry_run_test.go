package spec_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

// worker poll --dry-run runs beside the Ruby job on cutover day: it asks
// Lighthouse about every due upload and says what it would change, and
// writes nothing at all.
var _ = Describe("worker poll --dry-run", func() {
	It("reports what a poll would do and leaves every table as it was", func(ctx SpecContext) {
		w := newWorld()
		ids := seedUploads(ctx,
			upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})},
			upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed}), documentType: models.DocumentTypeForm0781},
			upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress})},
			upload{requestID: "abc"},
		)

		session := w.run([]string{"poll", "--dry-run", "--json"}, "FAILURE_NOTIFICATIONS_ENABLED=true")

		Expect(session.ExitCode()).To(Equal(0), string(session.Err.Contents()))
		var sum map[string]any
		Expect(json.Unmarshal(session.Out.Contents(), &sum)).To(Succeed())
		Expect(sum).To(SatisfyAll(
			HaveKeyWithValue("dry_run", true),
			HaveKeyWithValue("due", BeNumerically("==", 4)),
			HaveKeyWithValue("polled", BeNumerically("==", 3)),
			HaveKeyWithValue("completed", BeNumerically("==", 1)),
			HaveKeyWithValue("failed", BeNumerically("==", 1)),
			HaveKeyWithValue("still_pending", BeNumerically("==", 1)),
			HaveKeyWithValue("quarantined", BeNumerically("==", 1)),
		))
		Expect(w.statusCalls(200)).To(HaveLen(1), "Lighthouse was asked")

		for _, id := range ids {
			u := loadUpload(ctx, id)
			Expect(u.AasmState).To(Equal(models.StatePending), "upload %d", id)
			Expect(u.StatusLastPolledAt).To(BeNil(), "upload %d", id)
			Expect(u.LastStatusResponse).To(BeEmpty(), "upload %d", id)
		}
		for _, table := range []string{"lighthouse526_polling_cycles", "lighthouse526_notification_outbox", "lighthouse526_upload_poll_states"} {
			var n int64
			Expect(gdb.WithContext(ctx).Table(table).Count(&n).Error).To(Succeed())
			Expect(n).To(BeZero(), table)
		}
		// Its lines say they changed nothing, for log monitors to leave out.
		Expect(logsOf(session)).To(And(Not(BeEmpty()), HaveEach(havePayload(HaveKeyWithValue("dry_run", true)))))
	})
})
