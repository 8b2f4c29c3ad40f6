package runner

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the task server's own metrics: how every task runs (Instrument)
// and which polling tasks will never run again (Exhaustion). Their names are
// a contract with dashboards and alerts; labels are task types.
type Metrics struct {
	// Every task this worker runs, by type.
	TasksProcessed *prometheus.CounterVec
	TasksFailed    *prometheus.CounterVec
	TasksRetried   *prometheus.CounterVec
	TaskDuration   *prometheus.HistogramVec
	// Batch and cycle tasks that will never run again.
	PollExhausted *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		TasksProcessed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_worker_tasks_processed_total",
			Help: "Tasks handled, whatever the outcome, by task type.",
		}, []string{"task_type"}),
		TasksFailed: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_worker_tasks_failed_total",
			Help: "Tasks whose handler returned an error (rate-limit waits excluded), by task type.",
		}, []string{"task_type"}),
		TasksRetried: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_worker_tasks_retried_total",
			Help: "Tasks run again after an earlier failed attempt, by task type.",
		}, []string{"task_type"}),
		TaskDuration: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "form526_worker_task_duration_seconds",
			Help:    "Handler duration by task type.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12),
		}, []string{"task_type"}),
		PollExhausted: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_document_upload_poll_exhausted_total",
			Help: "Polling tasks that used their last retry or were archived without retry.",
		}, []string{"task_type"}),
	}
}
