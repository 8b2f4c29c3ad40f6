package models

import "time"

// The state machine of an upload is pending → completed | failed, and only
// the batch write (ApplyPollResults, WriteBatch) moves it: its SQL is the
// source of truth, one conditional UPDATE whose CASE applies these guards to
// the row it finds still pending, so of two writers racing, one transitions
// it. CanComplete and CanFail are the same guards in Go, for the caller that
// decides what to ask of the write (polling's decide); a table spec runs
// every status × stored state through the real write and checks that they
// agree with what the SQL did.

// CanComplete reports whether a pending upload may complete with endedAt as
// its end time: Lighthouse's time.endTime must be known.
func CanComplete(endedAt *time.Time) bool { return endedAt != nil }

// CanFail reports whether a pending upload may fail with endedAt and
// errorMessage: both must be known, and a JSON null is no message.
func CanFail(endedAt *time.Time, errorMessage JSON) bool {
	return endedAt != nil && len(errorMessage) > 0 && string(errorMessage) != "null"
}

// NextState is the state the batch write leaves an upload in that was
// stored as stored and asked to move to asked (StatePending: stay), by the
// guards above: only a pending upload moves, and only when its guard holds.
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
