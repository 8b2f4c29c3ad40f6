package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db/pgraw"
)

// CycleGauges are a finished cycle's figures for the original's
// pending_documents_* gauges.
type CycleGauges struct {
	DocumentsDue int // found due by the fan-out
	Completed    int // marked completed by its batches
	Failed       int // marked failed by its batches
}

// ClaimCycleGauges returns cycle id's gauges to the first caller that finds
// it finished (fan-out done, every batch done, not skipped), and nil to
// every other caller, before and after. One conditional UPDATE stamps
// gauges_sent_at, so of the replicas whose writes finish the cycle (the last
// batch's, or the fan-out's when every batch was done before it), exactly
// one sends the gauges: each asks after its own write committed, and the
// last to commit sees the cycle finished.
func ClaimCycleGauges(ctx context.Context, db *gorm.DB, id string, now time.Time) (*CycleGauges, error) {
	rows, err := pgraw.Rows(ctx, db, 1, `
UPDATE lighthouse526_polling_cycles
   SET gauges_sent_at = @now
 WHERE id = @id AND gauges_sent_at IS NULL AND NOT skipped
   AND `+cycleDoneSQL+`
RETURNING documents_due, completed_count, failed_count`, scanCycleGauges, map[string]any{"id": id, "now": now.UTC()})
	if err != nil {
		return nil, fmt.Errorf("models: claim cycle gauges: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

func scanCycleGauges(rows *sql.Rows, g *CycleGauges) error {
	return rows.Scan(&g.DocumentsDue, &g.Completed, &g.Failed)
}
