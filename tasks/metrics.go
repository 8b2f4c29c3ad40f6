package tasks

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the task types' own metrics: what a task's payload makes of
// it, before any polling. Their names are a contract with dashboards and
// alerts.
type Metrics struct {
	// Tasks refused for a malformed or invalid payload.
	RejectedTasks *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		RejectedTasks: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_document_upload_rejected_tasks_total",
			Help: "Tasks archived without retry because their payload was malformed or invalid.",
		}, []string{"task_type", "reason"}),
	}
}
