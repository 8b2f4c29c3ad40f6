package models_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

// The state machine's guards are written twice, in the batch write's SQL and
// as Go predicates (CanComplete, CanFail, and through them WouldWrite, what
// worker poll --dry-run reports): each case runs through both and they must
// agree, against Postgres.
var _ = Describe("The state machine's guards", func() {
	ended := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	errorObject := models.JSON(claimsEvidenceError)

	DescribeTable("WouldWrite agrees with WriteBatch",
		func(newState string, endedAt *time.Time, errorMessage models.JSON, stored, want string) {
			ctx := context.Background()
			u := createUpload()
			setState(u.ID, stored)
			r := models.PollResult{ID: u.ID, NewState: newState, SaveStatus: true, EndedAt: endedAt, ErrorMessage: errorMessage}
			batch := models.BatchWrite{Results: []models.PollResult{r}}

			would := models.WouldWrite(batch)
			written, err := models.WriteBatch(ctx, gdb, batch, ended)
			Expect(err).NotTo(HaveOccurred())

			Expect(reload(u.ID).AasmState).To(Equal(want))
			if stored == models.StatePending {
				Expect(would.Transitioned).To(Equal(written.Transitioned))
			}
			Expect(written.Transitioned).To(HaveLen(map[bool]int{true: 1, false: 0}[want != stored]))
		},
		Entry("complete with its end time", models.StateCompleted, &ended, nil, models.StatePending, models.StateCompleted),
		Entry("complete without an end time stays pending", models.StateCompleted, nil, nil, models.StatePending, models.StatePending),
		Entry("fail with end time and error", models.StateFailed, &ended, errorObject, models.StatePending, models.StateFailed),
		Entry("fail without an error object stays pending", models.StateFailed, &ended, nil, models.StatePending, models.StatePending),
		Entry("fail with a null error object stays pending", models.StateFailed, &ended, models.JSON("null"), models.StatePending, models.StatePending),
		Entry("fail without an end time stays pending", models.StateFailed, nil, errorObject, models.StatePending, models.StatePending),
		Entry("pending stays pending", models.StatePending, &ended, nil, models.StatePending, models.StatePending),
		Entry("a completed upload never fails", models.StateFailed, &ended, errorObject, models.StateCompleted, models.StateCompleted),
		Entry("a failed upload never completes", models.StateCompleted, &ended, nil, models.StateFailed, models.StateFailed),
	)
})
