package polling

import (
	"context"
	"time"

	"github.com/vagov/lighthouse526/models"
)

// DryRunResult is what a dry run found: the uploads due, those that would be
// quarantined, and the batches handed to poll.
type DryRunResult struct {
	DocumentsDue int `json:"documents_due"`
	Unpollable   int `json:"unpollable"`
	Batches      int `json:"batches"`
}

// DryRun walks the uploads due in a cycle scheduled at scheduledAt as Run
// does, page by page in id order, and hands each batch's request ids to poll,
// writing nothing itself: no cycle row, no cursor, no quarantine (an upload
// whose request id no batch may carry is counted as unpollable). With a
// StatusBatchHandler whose updater is a DryRun one, `worker poll --dry-run`
// asks Lighthouse what the Ruby job would and changes nothing, so the two can
// run side by side.
func (c *Cycle) DryRun(ctx context.Context, scheduledAt time.Time, poll func(ctx context.Context, requestIDs []string) error) (DryRunResult, error) {
	var res DryRunResult
	dueBefore, err := c.dueBefore(ctx, scheduledAt)
	if err != nil {
		return res, err
	}
	size := max(c.BatchSize, 1)
	pageRows := max(fanOutPageRows/size, 1) * size
	var cursor int64
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		due, err := models.NextDueBatch(ctx, c.DB, cursor, dueBefore, pageRows)
		if err != nil || len(due) == 0 {
			return res, err
		}
		cursor = due[len(due)-1].ID
		good, bad := ScreenDue(due)
		res.DocumentsDue += len(due)
		res.Unpollable += len(bad)
		for start := 0; start < len(good); start += size {
			res.Batches++
			if err := poll(ctx, UniqueRequestIDs(good[start:min(start+size, len(good))])); err != nil {
				return res, err
			}
		}
	}
}
