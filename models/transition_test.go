package models_test

import (
	"context"
	"errors"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

// transitionError asserts err is a refused transition and returns it.
func transitionError(err error) *models.TransitionError {
	GinkgoHelper()
	var te *models.TransitionError
	Expect(errors.As(err, &te)).To(BeTrue(), "want a *models.TransitionError, got %T: %v", err, err)
	Expect(models.IsTransitionRefused(err)).To(BeTrue())
	return te
}

var _ = Describe("Transitions", func() {
	var (
		ctx       context.Context
		upload    *models.Lighthouse526DocumentUpload
		startedAt time.Time
		endedAt   time.Time
	)

	BeforeEach(func() {
		ctx = context.Background()
		startedAt = now.Add(-2 * time.Hour).Truncate(time.Second)
		endedAt = now.Add(-time.Hour).Truncate(time.Second)
		upload = createUpload()
	})

	Describe("Complete", func() {
		Context("when the upload is pending and has an end time", func() {
			BeforeEach(func() {
				upload.LighthouseProcessingStartedAt = &startedAt
				upload.LighthouseProcessingEndedAt = &endedAt
				upload.LastStatusResponse = statusJSON(upload.LighthouseDocumentRequestID, "SUCCESS", &startedAt, &endedAt, "")
			})

			It("completes it with its times and last status", func() {
				Expect(upload.Complete(ctx, gdb, now)).To(Succeed())

				Expect(upload.AasmState).To(Equal(models.StateCompleted))
				stored := reload(upload.ID)
				Expect(stored.AasmState).To(Equal(models.StateCompleted))
				Expect(*stored.LighthouseProcessingStartedAt).To(BeTemporally("==", startedAt))
				Expect(*stored.LighthouseProcessingEndedAt).To(BeTemporally("==", endedAt))
				Expect(models.JSONEqual(stored.LastStatusResponse, upload.LastStatusResponse)).To(BeTrue())
				Expect(stored.UpdatedAt).To(BeTemporally("==", now))
			})
		})

		Context("when the end time is not set", func() {
			It("is refused by the guard and changes nothing", func() {
				before := rowText(upload.ID)

				te := transitionError(upload.Complete(ctx, gdb, now))

				Expect(te.Event).To(Equal(models.EventComplete))
				Expect(te.Reason).To(ContainSubstring("lighthouse_processing_ended_at"))
				Expect(te.Reason).To(ContainSubstring(models.ErrGuard.Error()))
				Expect(rowText(upload.ID)).To(Equal(before))
				Expect(upload.AasmState).To(Equal(models.StatePending))
			})
		})

		DescribeTable("when the upload is no longer pending",
			func(state string) {
				setState(upload.ID, state)
				before := rowText(upload.ID)
				upload.LighthouseProcessingEndedAt = &endedAt

				te := transitionError(upload.Complete(ctx, gdb, now))

				Expect(te.From).To(Equal(state))
				Expect(rowText(upload.ID)).To(Equal(before))
				Expect(upload.AasmState).To(Equal(models.StatePending), "the in-memory copy is not changed either")
			},
			Entry("completed by another process", models.StateCompleted),
			Entry("failed by another process", models.StateFailed),
		)

		Context("when the in-memory copy already knows it is final", func() {
			It("refuses without a statement", func() {
				upload.AasmState = models.StateFailed
				upload.LighthouseProcessingEndedAt = &endedAt

				te := transitionError(upload.Complete(ctx, gdb, now))

				Expect(te.From).To(Equal(models.StateFailed))
				Expect(reload(upload.ID).AasmState).To(Equal(models.StatePending))
			})
		})

		Context("when the upload does not exist", func() {
			It("is refused with no state", func() {
				gone := &models.Lighthouse526DocumentUpload{ID: 987654, AasmState: models.StatePending, LighthouseProcessingEndedAt: &endedAt}

				te := transitionError(gone.Complete(ctx, gdb, now))

				Expect(te.From).To(BeEmpty())
				Expect(te.Reason).To(ContainSubstring("no such document upload"))
			})
		})
	})

	Describe("Fail", func() {
		Context("when the upload is pending with an end time and an error message", func() {
			BeforeEach(func() {
				upload.LighthouseProcessingStartedAt = &startedAt
				upload.LighthouseProcessingEndedAt = &endedAt
				upload.ErrorMessage = models.JSON(claimsEvidenceError)
			})

			It("fails it with its end time and error message", func() {
				Expect(upload.Fail(ctx, gdb, now)).To(Succeed())

				Expect(upload.AasmState).To(Equal(models.StateFailed))
				stored := reload(upload.ID)
				Expect(stored.AasmState).To(Equal(models.StateFailed))
				Expect(*stored.LighthouseProcessingEndedAt).To(BeTemporally("==", endedAt))
				Expect(models.JSONEqual(stored.ErrorMessage, []byte(claimsEvidenceError))).To(BeTrue())
			})
		})

		DescribeTable("when a guard does not hold",
			func(change func(u *models.Lighthouse526DocumentUpload), reason string) {
				upload.LighthouseProcessingEndedAt = &endedAt
				upload.ErrorMessage = models.JSON(claimsEvidenceError)
				change(upload)
				before := rowText(upload.ID)

				te := transitionError(upload.Fail(ctx, gdb, now))

				Expect(te.Event).To(Equal(models.EventFail))
				Expect(te.Reason).To(ContainSubstring(reason))
				Expect(rowText(upload.ID)).To(Equal(before))
			},
			Entry("without an end time", func(u *models.Lighthouse526DocumentUpload) { u.LighthouseProcessingEndedAt = nil }, "lighthouse_processing_ended_at"),
			Entry("without an error message", func(u *models.Lighthouse526DocumentUpload) { u.ErrorMessage = nil }, "error_message"),
			Entry("with a JSON null error message", func(u *models.Lighthouse526DocumentUpload) { u.ErrorMessage = models.JSON("null") }, "error_message"),
		)

		Context("when the upload is already completed", func() {
			It("is refused and changes nothing", func() {
				setState(upload.ID, models.StateCompleted)
				before := rowText(upload.ID)
				upload.LighthouseProcessingEndedAt = &endedAt
				upload.ErrorMessage = models.JSON(claimsEvidenceError)

				te := transitionError(upload.Fail(ctx, gdb, now))

				Expect(te.From).To(Equal(models.StateCompleted))
				Expect(rowText(upload.ID)).To(Equal(before))
			})
		})
	})

	Context("when several processes transition the same upload at once", func() {
		const racers = 10

		It("lets exactly one succeed and refuses the others", func() {
			// Each racer has its own copy, as separate workers would; half
			// complete and half fail, each at its own time.
			copies := make([]*models.Lighthouse526DocumentUpload, racers)
			for i := range copies {
				copies[i] = reload(upload.ID)
				copies[i].LighthouseProcessingEndedAt = &endedAt
				copies[i].ErrorMessage = models.JSON(claimsEvidenceError)
			}
			errs := make([]error, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i, c := range copies {
				wg.Go(func() {
					<-start
					at := now.Add(time.Duration(i) * time.Second)
					if i%2 == 0 {
						errs[i] = c.Complete(ctx, gdb, at)
					} else {
						errs[i] = c.Fail(ctx, gdb, at)
					}
				})
			}
			close(start)
			wg.Wait()

			winner := -1
			for i, err := range errs {
				if err == nil {
					Expect(winner).To(Equal(-1), "racers %d and %d both succeeded", winner, i)
					winner = i
					continue
				}
				Expect(transitionError(err).From).To(BeElementOf(models.StateCompleted, models.StateFailed))
			}
			Expect(winner).NotTo(Equal(-1), "no racer succeeded")

			stored := reload(upload.ID)
			Expect(stored.AasmState).To(Equal(copies[winner].AasmState))
			Expect(stored.UpdatedAt).To(BeTemporally("==", now.Add(time.Duration(winner)*time.Second)),
				"the row carries the winner's write only")
		})
	})
})
