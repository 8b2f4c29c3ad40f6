package polling

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/models"
)

// SendCycleGauges sends the original's pending_documents_* gauges to StatsD
// when the caller's write (a batch's, an exhausted batch's, or the fan-out's)
// finished cycle cycleID: documents due at its start, and what its batches
// marked completed and failed. Sent once per cycle, by whichever replica
// finishes it (models.ClaimCycleGauges), in the same cycle, not one late.
//
// Cron cycles and manual runs (`worker poll`) are runs of the original's
// job; a poll-now task's cycle is not, and its few uploads would overwrite
// the job's figures, so it sends none. Without a StatsD client nothing is
// asked of the database.
func SendCycleGauges(ctx context.Context, db *gorm.DB, m *Metrics, log *slog.Logger, cycleID string, now time.Time) {
	if m.StatsD == nil || cycleID == "" || strings.HasPrefix(cycleID, AdHocCyclePrefix) {
		return
	}
	g, err := models.ClaimCycleGauges(ctx, db, cycleID, now)
	if err != nil {
		// A metric never fails the batch that would send it.
		log.WarnContext(ctx, "could not check whether the polling cycle is finished; its StatsD gauges may not be sent",
			"cycle_id", cycleID, "error", err.Error())
		return
	}
	if g != nil {
		m.StatsD.CycleGauges(g.DocumentsDue, g.Completed, g.Failed)
	}
}

// CycleFinished sends the gauges of the cycle a batch just wrote to, if that
// write finished it.
func (u *StatusUpdater) CycleFinished(ctx context.Context, log *slog.Logger, cycleID string) {
	SendCycleGauges(ctx, u.DB, u.Metrics, log, cycleID, u.Now())
}
