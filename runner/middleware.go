package runner

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vagov/lighthouse526/vagov/semanticlogger"
)

// Instrument is the server's middleware: it puts the task's task_type,
// task_id, queue and retry in its context, for the lines it logs (TaskAttrs),
// and records the task metrics.
func Instrument(m *Metrics) asynq.MiddlewareFunc {
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			id, _ := asynq.GetTaskID(ctx)
			queue, _ := asynq.GetQueueName(ctx)
			retry, _ := asynq.GetRetryCount(ctx)
			ctx = withTaskAttrs(ctx, slog.String("task_type", t.Type()), slog.String("task_id", id),
				slog.String("queue", queue), slog.Int("retry", retry))

			if retry > 0 {
				m.TasksRetried.WithLabelValues(t.Type()).Inc()
			}
			start := time.Now()
			err := next.ProcessTask(ctx, t)
			m.TaskDuration.WithLabelValues(t.Type()).Observe(time.Since(start).Seconds())
			m.TasksProcessed.WithLabelValues(t.Type()).Inc()
			if err != nil && IsFailure(err) {
				m.TasksFailed.WithLabelValues(t.Type()).Inc()
			}
			return err
		})
	}
}

// AsynqLogger adapts slog to asynq's logger interface.
func AsynqLogger(l *slog.Logger) asynq.Logger {
	return asynqLogger{l.With("component", "asynq")}
}

type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) {
	a.l.Log(context.Background(), semanticlogger.LevelFatal, fmt.Sprint(args...))
}
