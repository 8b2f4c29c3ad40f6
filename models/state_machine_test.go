package models_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

// The one spec of the state machine: every status the worker asks the batch
// write for × every stored state, through the real write against Postgres.
// The Go guards (models.NextState through CanComplete and CanFail, and
// WouldWrite, what worker poll --dry-run reports) must agree with what the
// SQL did, and the SQL must do what the original's state machine does: only
// a pending upload moves, and only when its guard holds.
var _ = Describe("The upload state machine", func() {
	type asked struct {
		state        string
		ended        bool
		errorMessage string // "" is none
	}
	var (
		success         = asked{models.StateCompleted, true, ""}
		successNoEnd    = asked{models.StateCompleted, false, ""}
		failed          = asked{models.StateFailed, true, claimsEvidenceError}
		failedNoEnd     = asked{models.StateFailed, false, claimsEvidenceError}
		failedNoMessage = asked{models.StateFailed, true, ""}
		failedNull      = asked{models.StateFailed, true, "null"}
		inProgress      = asked{models.StatePending, false, ""}
		inProgressEnded = asked{models.StatePending, true, ""}
	)

	DescribeTable("status × stored state → outcome",
		func(stored string, a asked, want string) {
			ctx := context.Background()
			endedAt := now.Add(-time.Hour).Truncate(time.Second)
			up := createUpload()
			setState(up.ID, stored)
			r := models.PollResult{ID: up.ID, NewState: a.state, SaveStatus: true}
			if a.ended {
				r.EndedAt = &endedAt
			}
			if a.errorMessage != "" {
				r.ErrorMessage = models.JSON(a.errorMessage)
			}
			batch := models.BatchWrite{Results: []models.PollResult{r}}

			Expect(models.NextState(stored, a.state, r.EndedAt, r.ErrorMessage)).To(Equal(want), "the Go guards")
			would := models.WouldWrite(batch)
			written, err := models.WriteBatch(ctx, gdb, batch, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(reload(up.ID).AasmState).To(Equal(want), "the batch write's SQL")
			if want != stored {
				Expect(written.Transitioned).To(ConsistOf(models.Transitioned{ID: up.ID, AasmState: want}))
			} else {
				Expect(written.Transitioned).To(BeEmpty())
			}
			if stored == models.StatePending {
				Expect(would.Transitioned).To(Equal(written.Transitioned), "what a dry run reports")
			}
		},
		Entry("pending, SUCCESS with its end time: completed", models.StatePending, success, models.StateCompleted),
		Entry("pending, SUCCESS without an end time: stays pending (guard)", models.StatePending, successNoEnd, models.StatePending),
		Entry("pending, FAILED with end time and error: failed", models.StatePending, failed, models.StateFailed),
		Entry("pending, FAILED without an end time: stays pending (guard)", models.StatePending, failedNoEnd, models.StatePending),
		Entry("pending, FAILED without an error object: stays pending (guard)", models.StatePending, failedNoMessage, models.StatePending),
		Entry("pending, FAILED with a JSON null error object: stays pending (guard)", models.StatePending, failedNull, models.StatePending),
		Entry("pending, IN_PROGRESS: stays pending", models.StatePending, inProgress, models.StatePending),
		Entry("pending, IN_PROGRESS with an end time: stays pending", models.StatePending, inProgressEnded, models.StatePending),
		Entry("completed, SUCCESS: stays completed", models.StateCompleted, success, models.StateCompleted),
		Entry("completed, FAILED: a completed upload never fails", models.StateCompleted, failed, models.StateCompleted),
		Entry("completed, IN_PROGRESS: stays completed", models.StateCompleted, inProgress, models.StateCompleted),
		Entry("completed, SUCCESS without an end time: stays completed", models.StateCompleted, successNoEnd, models.StateCompleted),
		Entry("failed, SUCCESS: a failed upload never completes", models.StateFailed, success, models.StateFailed),
		Entry("failed, FAILED: stays failed", models.StateFailed, failed, models.StateFailed),
		Entry("failed, IN_PROGRESS: stays failed", models.StateFailed, inProgress, models.StateFailed),
		Entry("failed, FAILED without an error object: stays failed", models.StateFailed, failedNoMessage, models.StateFailed),
		Entry("failed, SUCCESS without an end time: stays failed", models.StateFailed, successNoEnd, models.StateFailed),
	)
})
