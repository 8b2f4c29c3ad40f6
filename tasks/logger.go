package tasks

import (
	"context"
	"log/slog"
)

type loggerKey struct{}

// WithLogger returns ctx carrying a task's logger (the server's middleware
// sets one with task_type, task_id, queue and retry).
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// LoggerFrom returns the task's logger that WithLogger put in ctx, or
// fallback. Handlers pass it to polling, so that every line a task causes
// carries its task id and type.
func LoggerFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}
