package models

import "time"

// The state machine of an upload is pending → completed | failed, and only
// the batch write (WriteBatch) moves it: its SQL is the
// source of truth, one conditional UPDATE whose CASE applies the guards
// below to the row it finds still pending, so that of two writers racing,
// one transitions it. CanComplete and CanFail are the same guards in Go, for
// those that decide what to ask of the write (polling's decide) or report
// what it would do (WouldWrite); one table spec runs every status × stored
// state through the real write and checks that they agree with the SQL.

// CanComplete is the guard of pending → completed: Lighthouse's end time is
// set.
func CanComplete(endedAt *time.Time) bool { return endedAt != nil }

// CanFail is the guard of pending → failed: the end time and the error
// object are set (a JSON null is no error object).
func CanFail(endedAt *time.Time, errorMessage JSON) bool {
	return endedAt != nil && jsonText(errorMessage) != nil
}

// NextState is the state the batch write leaves an upload in that was
// stored as stored and asked to move to asked (StatePending: stay): only a
// pending upload moves, and only when its guard holds.
func NextState(stored, asked string, endedAt *time.Time, errorMessage JSON) string {
	switch {
	case stored != StatePending:
		return stored
	case asked == StateCompleted && CanComplete(endedAt):
		return StateCompleted
	case asked == StateFailed && CanFail(endedAt, errorMessage):
		return StateFailed
	}
	return stored
}

// WouldWrite is what WriteBatch would report for b, written nothing (worker
// poll --dry-run): the transitions the guards allow, and every quarantine,
// on the assumption that each upload is still pending.
func WouldWrite(b BatchWrite) BatchWritten {
	var out BatchWritten
	for i := range b.Results {
		r := &b.Results[i]
		if to := NextState(StatePending, r.NewState, r.EndedAt, r.ErrorMessage); to != StatePending {
			out.Transitioned = append(out.Transitioned, Transitioned{ID: r.ID, AasmState: to})
		}
	}
	out.Quarantined = b.Quarantines
	return out
}
