package polling

import (
	"context"
	"log/slog"
	"math"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/models"
)

// SendCycleGauges sends the original's pending_documents_marked_* gauges to
// StatsD when the caller's write (a batch's, an exhausted batch's, or the
// fan-out's) finished cycle cycleID: what its batches marked completed and
// failed. Sent once per cycle, by whichever replica finishes it
// (models.ClaimCycleGauges), in the same cycle, not one late. The third
// gauge, pending_documents_polled, goes when the cycle starts
// (sendDueGauge).
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
		m.StatsD.CycleFinished(g.Completed, g.Failed)
	}
}

// sendDueGauge sends pending_documents_polled for a scheduled or manual
// cycle that is about to hand on its first batch: the uploads due at its
// start, sent before its first call to Lighthouse, as the original sent it
// (original-system.md, "Metrics": "documents due, sent at the run's start,
// before any call"). Under the fixed strategy that is every upload the scan
// will find; under the adaptive one, what the cycle will claim: the uploads
// due now, up to a cron cycle's share of the rate budget. A count that fails
// is logged and the cycle goes on without the gauge.
func (c *Cycle) sendDueGauge(ctx context.Context, log *slog.Logger, row *models.PollingCycle, src *source) {
	if c.Metrics.StatsD == nil || strings.HasPrefix(row.ID, AdHocCyclePrefix) {
		return
	}
	var n int
	var err error
	if c.Adaptive == nil {
		n, err = models.CountDueBefore(ctx, c.DB, row.DueBefore, c.Now())
	} else {
		limit := math.MaxInt32
		if src.maxBatches > 0 {
			limit = src.maxBatches * max(c.BatchSize, 1)
		}
		n, err = models.CountDue(ctx, c.DB, c.Now(), c.Adaptive.FirstPoll(), limit)
	}
	if err != nil {
		log.WarnContext(ctx, "could not count the uploads due; this cycle sends no pending_documents_polled gauge", "error", err.Error())
		return
	}
	c.Metrics.StatsD.CycleStarted(n)
}

// CycleFinished sends the gauges of the cycle a batch just wrote to, if that
// write finished it.
func (u *StatusUpdater) CycleFinished(ctx context.Context, log *slog.Logger, cycleID string) {
	SendCycleGauges(ctx, u.DB, u.Metrics, log, cycleID, u.Now())
}
