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
// writing nothing itself: no cycle row, no cursor, no claim or lease, no
// quarantine (an upload whose request id no batch may carry is counted as
// unpollable). Under the adaptive strategy the uploads are those its
// schedule says are due at scheduledAt, all of them (no budget cap). With a
// BatchPoller whose updater is a DryRun one, `worker poll --dry-run`
// asks Lighthouse what the Ruby job would and changes nothing, so the two can
// run side by side.
func (c *Cycle) DryRun(ctx context.Context, scheduledAt time.Time, poll func(ctx context.Context, requestIDs []string) error) (DryRunResult, error) {
	var res DryRunResult
	next, err := c.dryRunPages(ctx, scheduledAt)
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
		due, err := next(ctx, cursor, pageRows)
		if err != nil || len(due) == 0 {
			return res, err
		}
		cursor = due[len(due)-1].ID
		good, bad := ScreenDue(due)
		res.DocumentsDue += len(due)
		res.Unpollable += len(bad)
		for _, part := range Split(good, size) {
			res.Batches++
			if err := poll(ctx, UniqueRequestIDs(part)); err != nil {
				return res, err
			}
		}
	}
}

// dryRunPages reads what a cycle scheduled at scheduledAt would poll, in id
// order, claiming nothing.
func (c *Cycle) dryRunPages(ctx context.Context, scheduledAt time.Time) (page, error) {
	if c.Adaptive != nil {
		return func(ctx context.Context, afterID int64, limit int) ([]models.DueUpload, error) {
			return models.NextDueAdaptive(ctx, c.DB, afterID, scheduledAt, c.Adaptive.FirstPoll(), limit)
		}, nil
	}
	dueBefore, err := c.dueBefore(ctx, scheduledAt)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, afterID int64, limit int) ([]models.DueUpload, error) {
		return models.NextDueBatch(ctx, c.DB, afterID, dueBefore, scheduledAt, limit)
	}, nil
}
