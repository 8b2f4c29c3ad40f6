package simulate

import (
	"time"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// The simulated Lighthouse's workflow steps.
const (
	stepClaimsEvidence = "CLAIMS_EVIDENCE"
	stepBGS            = "BENEFITS_GATEWAY_SERVICE"
)

// statusAt is what Lighthouse's POST /uploads/status says of u at t: its
// document status and current step.
func (u *Upload) statusAt(t time.Time) (status, step string) {
	switch {
	case u.Finishes() && !t.Before(u.Ended):
		if u.Failed {
			return lighthouse.StatusFailed, stepBGS
		}
		return lighthouse.StatusSuccess, stepBGS
	case !u.Moved.IsZero() && !t.Before(u.Moved):
		return lighthouse.StatusInProgress, stepBGS
	}
	return lighthouse.StatusInProgress, stepClaimsEvidence
}

// failedError is the error object of a simulated FAILED status.
var failedError = models.JSON(`{"detail":"simulated failure","step":"BENEFITS_GATEWAY_SERVICE"}`)

// poll is one upload's poll at t: the state the product's batch write would
// leave it in (models.NextState, whose guards are models.CanComplete and
// models.CanFail, asked as polling's decide asks: SUCCESS → completed,
// FAILED → failed with its error object, anything else → stay pending), and
// a digest of the status for the schedule (polling.Seen).
func (u *Upload) poll(t time.Time) (state string, digest uint64) {
	status, step := u.statusAt(t)
	asked, ended, errorMessage := models.StatePending, (*time.Time)(nil), models.JSON(nil)
	switch status {
	case lighthouse.StatusSuccess:
		asked, ended = models.StateCompleted, &u.Ended
	case lighthouse.StatusFailed:
		asked, ended, errorMessage = models.StateFailed, &u.Ended, failedError
	}
	digest = polling.StatusDigest(status, []lighthouse.Step{{Name: step, Status: status}})
	return models.NextState(models.StatePending, asked, ended, errorMessage), digest
}
