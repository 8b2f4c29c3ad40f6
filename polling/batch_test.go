package polling_test

import (
	"context"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// A batch read, asked about and written by polling.BatchPoller against the
// real database and a fake Lighthouse.
var _ = Describe("BatchPoller", func() {
	const refusedAbove = 1_000_000 // the fake's MaxRequestID: it refuses every call holding a larger id
	var (
		ctx    context.Context
		o      *observed
		lh     *lighthouseEnv
		poller *polling.BatchPoller
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		lh = startLighthouse(fake.Options{MaxRequestID: refusedAbove})
		poller = &polling.BatchPoller{Lighthouse: lh.Client, Updater: newUpdater(o)}
	})

	// seed seeds n uploads the fake completes; ids are in id order.
	seed := func(n int) ([]string, []models.Lighthouse526DocumentUpload) {
		ids := make([]string, n)
		ups := make([]models.Lighthouse526DocumentUpload, n)
		for i := range ids {
			ids[i] = lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			ups[i] = seedUpload(ctx, ids[i], models.DocumentTypes[i%4])
		}
		return ids, ups
	}
	// refusedCalls are the status calls the fake answered 400, by the ids
	// they held.
	refusedCalls := func() [][]string {
		var out [][]string
		for _, r := range lh.Fake.Requests() {
			if r.Path == fake.APIPrefix+"/uploads/status" && r.StatusCode == 400 {
				out = append(out, r.RequestIDs)
			}
		}
		return out
	}

	// Issue 23: a transient 400 for a whole batch quarantined the last id of
	// the bisection (ids 10 and 3013), which was never asked about alone.
	Context("when Lighthouse answers a whole batch 400 once, then answers every part", func() {
		It("quarantines nothing: the id the bisection ends on is asked alone, answered, and applied", func() {
			ids, ups := seed(10)
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 400}}})

			sum, err := poller.Poll(ctx, o.Logger, "", ids, false)

			Expect(err).NotTo(HaveOccurred())
			Expect(refusedCalls()).To(ConsistOf(ConsistOf(ids)))
			Expect(sum.Quarantined).To(BeZero())
			Expect(sum.Completed).To(Equal(10))
			Expect(o.Quarantined(models.QuarantineRefusedByLighthouse)).To(BeZero())
			Expect(o.Logs.WithMessage(msgQuarantined)).To(BeEmpty())
			for _, u := range ups {
				Expect(reloadUpload(ctx, u.ID).AasmState).To(Equal(models.StateCompleted), "upload %d", u.ID)
			}
		})
	})

	Context("when Lighthouse refuses one id of a batch, wherever it is", func() {
		DescribeTable("quarantines it only once a call holding it alone was answered 400",
			func(at int) {
				// Seeded in this order: the batch asks in upload id order.
				var ids []string
				var good []models.Lighthouse526DocumentUpload
				var refused models.Lighthouse526DocumentUpload
				for i := range 10 {
					if i == at {
						refused = seedUpload(ctx, fmt.Sprint(refusedAbove+1), models.DocumentTypeForm0781)
						ids = append(ids, refused.LighthouseDocumentRequestID)
						continue
					}
					more, ups := seed(1)
					ids, good = append(ids, more...), append(good, ups...)
				}

				sum, err := poller.Poll(ctx, o.Logger, "", ids, false)

				Expect(err).NotTo(HaveOccurred())
				Expect(refusedCalls()).To(ContainElement(Equal([]string{refused.LighthouseDocumentRequestID})))
				Expect(sum.Quarantined).To(Equal(1))
				Expect(sum.Completed).To(Equal(9))
				Expect(o.Quarantined(models.QuarantineRefusedByLighthouse)).To(Equal(1.0))
				for _, u := range good {
					Expect(reloadUpload(ctx, u.ID).AasmState).To(Equal(models.StateCompleted), "upload %d", u.ID)
				}
			},
			Entry("first", 0),
			Entry("in the middle", 4),
			Entry("last", 9),
		)
	})
})
