// Package tasks holds the worker's asynq task types, one file each: their
// names (a contract, never renamed), payloads, constructors (built from one
// description per type, kinds.go) and handlers. What a handler does with
// Lighthouse's answer is the polling package's; how the server runs the
// handlers (retries, middleware, exhaustion, the cron scheduler) is
// runner's.
//
// The error contract of every handler: nil means done; a wrapped transient
// error is retried with backoff; an error wrapping asynq.SkipRetry (a bad
// payload, a permanent 4xx) is archived at once; a *lighthouse.RateLimitError
// is not a failure (it uses up no retry) and says itself how long to wait.
package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/hibiken/asynq"
)

// PayloadError is a task payload that is malformed or invalid. Its handler
// archives the task without retry: running it again cannot help.
type PayloadError struct {
	TaskType string
	Reason   string // small fixed set, for the metric label: malformed_json, invalid
	Detail   string
}

func (e *PayloadError) Error() string {
	return fmt.Sprintf("%s: %s payload: %s", e.TaskType, strings.ReplaceAll(e.Reason, "_", " "), e.Detail)
}

// Unwrap makes a PayloadError an asynq.SkipRetry.
func (e *PayloadError) Unwrap() error { return asynq.SkipRetry }

// maxPayloadBytes bounds a task payload before it is decoded: the largest
// legitimate one (5,000 request ids of an ad hoc poll) is about 100 KB.
const maxPayloadBytes = 1 << 20

// validator is a payload that checks itself.
type validator interface{ Validate() error }

// decodePayload decodes a task's JSON payload strictly (unknown fields are an
// error: a typo in another service's payload must not pass silently) and
// validates it.
func decodePayload(t *asynq.Task, v validator) *PayloadError {
	if n := len(t.Payload()); n > maxPayloadBytes {
		return &PayloadError{TaskType: t.Type(), Reason: "too_large", Detail: fmt.Sprintf("%d bytes, at most %d", n, maxPayloadBytes)}
	}
	dec := json.NewDecoder(bytes.NewReader(t.Payload()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &PayloadError{TaskType: t.Type(), Reason: "malformed_json", Detail: err.Error()}
	}
	if dec.More() {
		return &PayloadError{TaskType: t.Type(), Reason: "malformed_json", Detail: "trailing data after the JSON object"}
	}
	if err := v.Validate(); err != nil {
		return &PayloadError{TaskType: t.Type(), Reason: "invalid", Detail: err.Error()}
	}
	return nil
}

// logRejected is logged once for every task refused for its payload.
const logRejected = "rejected a task: its payload is malformed or invalid"

// reject counts and logs a payload error once, where it is decided, and
// returns it (it wraps asynq.SkipRetry: the task is archived at once).
func reject(ctx context.Context, m *Metrics, log *slog.Logger, pe *PayloadError) error {
	m.RejectedTasks.WithLabelValues(pe.TaskType, pe.Reason).Inc()
	log.ErrorContext(ctx, logRejected, "rejected_task_type", pe.TaskType, "reason", pe.Reason, "error", pe.Error())
	return pe
}

// accept decodes t's payload into p for a handler, or returns the payload
// error, counted and logged (reject).
func accept(ctx context.Context, t *asynq.Task, p validator, m *Metrics, log *slog.Logger) error {
	if pe := decodePayload(t, p); pe != nil {
		return reject(ctx, m, log, pe)
	}
	return nil
}
