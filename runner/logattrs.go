package runner

import (
	"context"
	"log/slog"
)

// The logger travels one way: injected (a handler's Logger, a function's
// log parameter), never in a context. What a context carries is the task's
// identity, which Instrument puts there and a logger built on TaskAttrs
// adds to every line logged with that context, so that every line a task
// causes, however deep, names its task.

type taskAttrsKey struct{}

// withTaskAttrs returns ctx carrying attrs for TaskAttrs to add.
func withTaskAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	return context.WithValue(ctx, taskAttrsKey{}, attrs)
}

// TaskAttrs wraps h so that a line logged with the context of a task
// (Instrument) carries task_type, task_id, queue and retry.
func TaskAttrs(h slog.Handler) slog.Handler { return taskAttrsHandler{h} }

type taskAttrsHandler struct{ slog.Handler }

func (h taskAttrsHandler) Handle(ctx context.Context, r slog.Record) error {
	if attrs, ok := ctx.Value(taskAttrsKey{}).([]slog.Attr); ok {
		r.AddAttrs(attrs...)
	}
	return h.Handler.Handle(ctx, r)
}

func (h taskAttrsHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return taskAttrsHandler{h.Handler.WithAttrs(attrs)}
}

func (h taskAttrsHandler) WithGroup(name string) slog.Handler {
	return taskAttrsHandler{h.Handler.WithGroup(name)}
}
