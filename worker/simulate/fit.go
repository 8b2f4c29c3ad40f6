package simulate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/models"
)

// MinFitRows is how many finished uploads --fit-from-db needs: fewer say
// too little of the distribution's tail to simulate on.
const MinFitRows = 200

// Empirical is processing times as a database's history has them: each
// draw is one finished upload's, with its outcome, chosen at random; Never
// of all uploads never finish.
type Empirical struct {
	Durations []time.Duration
	Failed    []bool // of each duration: the upload ended failed
	Never     float64
	// NeverFromDB says whether Never came from the database (its pending
	// uploads older than a week) or is the default, for want of any.
	NeverFromDB bool
}

// Draw implements Processing.
func (e *Empirical) Draw(r *rand.Rand) (time.Duration, bool, bool) {
	if r.Float64() < e.Never {
		return 0, false, false
	}
	i := r.IntN(len(e.Durations))
	return e.Durations[i], true, e.Failed[i]
}

// FailedShare is the share of the finished uploads that failed.
func (e *Empirical) FailedShare() float64 {
	var n int
	for _, f := range e.Failed {
		if f {
			n++
		}
	}
	return float64(n) / float64(len(e.Failed))
}

// Describe implements Processing.
func (e *Empirical) Describe() string {
	sorted := slices.Clone(e.Durations)
	slices.Sort(sorted)
	q := func(p float64) string { return ShortDuration(sorted[rank(len(sorted), p)].Round(time.Second)) }
	never := percent(e.Never) + " never (pending over a week, of all uploads)"
	if !e.NeverFromDB {
		never = percent(e.Never) + " never (the default: no upload pending over a week)"
	}
	return fmt.Sprintf("fitted from the database: %s finished uploads (median %s, p90 %s, p99 %s), %s of them FAILED; %s",
		Thousands(float64(len(sorted))), q(0.5), q(0.9), q(0.99), percent(e.FailedShare()), never)
}

// TooFewRowsError is --fit-from-db's refusal: the database has fewer
// finished uploads with both processing times than MinFitRows.
type TooFewRowsError struct{ Found int }

func (e *TooFewRowsError) Error() string {
	return fmt.Sprintf("--fit-from-db: found %d completed or failed uploads with both processing times in lighthouse526_document_uploads; at least %d are needed to fit a distribution", e.Found, MinFitRows)
}

// FitFromDB reads the processing times (lighthouse_processing_ended_at −
// lighthouse_processing_started_at) of the completed and failed uploads,
// and the share of all uploads still pending a week after creation (used
// as the never-finishing share; defaultNever when there is none). It reads
// durations and states only, never an identifier.
func FitFromDB(ctx context.Context, gdb *gorm.DB, defaultNever float64) (*Empirical, error) {
	rows, err := models.ProcessingTimes(ctx, gdb)
	if err != nil {
		return nil, fmt.Errorf("--fit-from-db: %w", err)
	}
	if len(rows) < MinFitRows {
		return nil, &TooFewRowsError{Found: len(rows)}
	}
	counts, err := models.CountStuckPending(ctx, gdb, 7*24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("--fit-from-db: %w", err)
	}
	e := &Empirical{Never: defaultNever}
	if counts.StuckPending > 0 {
		e.Never, e.NeverFromDB = float64(counts.StuckPending)/float64(counts.Total), true
	}
	for _, r := range rows {
		e.Durations = append(e.Durations, r.Duration)
		e.Failed = append(e.Failed, r.Failed)
	}
	return e, nil
}
