package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Events of the state machine.
const (
	EventComplete = "complete"
	EventFail     = "fail"
)

// TransitionError is a refused transition. Nothing was changed.
type TransitionError struct {
	Event  string
	From   string // the state found, "" when the record was not found
	Reason string
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot %s document upload in state %q: %s", e.Event, e.From, e.Reason)
}

// ErrGuard is wrapped by a TransitionError refused by a guard.
var ErrGuard = errors.New("guard refused")

// IsTransitionRefused reports whether err is a refused transition.
func IsTransitionRefused(err error) bool {
	var te *TransitionError
	return errors.As(err, &te)
}

// Complete moves a pending upload to completed, saving its end time with it,
// in one conditional UPDATE: of two processes racing, exactly one succeeds and
// the other gets a *TransitionError. The guard: ended-at must be set.
func (u *Lighthouse526DocumentUpload) Complete(ctx context.Context, db *gorm.DB, now time.Time) error {
	if u.LighthouseProcessingEndedAt == nil {
		return &TransitionError{Event: EventComplete, From: u.AasmState, Reason: "lighthouse_processing_ended_at is not set: " + ErrGuard.Error()}
	}
	return u.transition(ctx, db, EventComplete, StateCompleted, now, map[string]any{
		"lighthouse_processing_ended_at": u.LighthouseProcessingEndedAt.UTC(),
	})
}

// Fail moves a pending upload to failed with its end time and error message.
// Guards: ended-at and error_message must be set.
func (u *Lighthouse526DocumentUpload) Fail(ctx context.Context, db *gorm.DB, now time.Time) error {
	switch {
	case u.LighthouseProcessingEndedAt == nil:
		return &TransitionError{Event: EventFail, From: u.AasmState, Reason: "lighthouse_processing_ended_at is not set: " + ErrGuard.Error()}
	case len(u.ErrorMessage) == 0 || string(u.ErrorMessage) == "null":
		return &TransitionError{Event: EventFail, From: u.AasmState, Reason: "error_message is not set: " + ErrGuard.Error()}
	}
	return u.transition(ctx, db, EventFail, StateFailed, now, map[string]any{
		"lighthouse_processing_ended_at": u.LighthouseProcessingEndedAt.UTC(),
		"error_message":                  u.ErrorMessage,
	})
}

func (u *Lighthouse526DocumentUpload) transition(ctx context.Context, db *gorm.DB, event, to string, now time.Time, fields map[string]any) error {
	if u.AasmState != "" && u.AasmState != StatePending {
		return &TransitionError{Event: event, From: u.AasmState, Reason: "only a pending upload can " + event}
	}
	fields["aasm_state"] = to
	fields["updated_at"] = now.UTC()
	if u.LighthouseProcessingStartedAt != nil {
		fields["lighthouse_processing_started_at"] = u.LighthouseProcessingStartedAt.UTC()
	}
	if len(u.LastStatusResponse) > 0 {
		fields["last_status_response"] = u.LastStatusResponse
	}
	res := db.WithContext(ctx).Table(Lighthouse526DocumentUpload{}.TableName()).
		Where("id = ? AND aasm_state = ?", u.ID, StatePending).
		Updates(fields)
	if res.Error != nil {
		return fmt.Errorf("models: %s upload %d: %w", event, u.ID, res.Error)
	}
	if res.RowsAffected == 0 {
		var current Lighthouse526DocumentUpload
		err := db.WithContext(ctx).Select("aasm_state").Take(&current, u.ID).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return &TransitionError{Event: event, Reason: "no such document upload"}
		}
		return &TransitionError{Event: event, From: current.AasmState, Reason: "only a pending upload can " + event}
	}
	u.AasmState = to
	u.UpdatedAt = now.UTC()
	return nil
}
