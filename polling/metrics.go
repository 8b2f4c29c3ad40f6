package polling

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/vagov/statsd"
)

// Metrics are the polling domain's Prometheus metrics (how a task runs is
// runner.Metrics). Their names are a contract with dashboards and alerts;
// labels come from small fixed sets.
type Metrics struct {
	// Document outcomes, per record: the original's
	// lighthouse_document_upload_processing_status.<type>.<outcome>[.<step>].
	DocumentStatus *prometheus.CounterVec
	// Failed calls to the status endpoint, and unknown ids, by reason.
	PollingErrors *prometheus.CounterVec
	// Request ids Lighthouse did not know, one per id.
	UnknownRequestIDs prometheus.Counter
	// Status entries that could not be applied as sent.
	MalformedStatuses *prometheus.CounterVec
	// Uploads quarantined because they cannot be polled, by reason.
	Quarantined *prometheus.CounterVec

	// Cycle gauges, the original's pending_documents_* figures.
	DocumentsDue           prometheus.Gauge
	PreviousCycleCompleted prometheus.Gauge
	PreviousCycleFailed    prometheus.Gauge
	CyclesSkipped          prometheus.Counter
	// Runs of a cycle's fan-out that failed with an error (its task is
	// retried); each is also logged at error level.
	CycleErrors              prometheus.Counter
	LastCycleFanOutTimestamp prometheus.Gauge
	BatchesEnqueued          prometheus.Counter
	// The adaptive strategy's backlog: uploads a cron cycle left due for a
	// later one because it reached its share of the rate budget, and how
	// long the most overdue upload it claimed had been due. Both grow while
	// the budget is short of what the schedule asks.
	DocumentsDeferred prometheus.Gauge
	OldestOverdue     prometheus.Gauge

	// Failure follow-ups.
	NotificationsEnqueued *prometheus.CounterVec
	NotificationErrors    prometheus.Counter
	OutboxUnsent          prometheus.Gauge
	// Failures that owed a follow-up which could not be written.
	NotificationsSkipped *prometheus.CounterVec

	// StatsD sends the original's StatsD keys beside the Prometheus metrics
	// above, from the same places; nil (STATSD_ADDR empty) sends nothing.
	StatsD *statsd.Client
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		DocumentStatus: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_document_upload_status_total",
			Help: "Document uploads by outcome: complete, failed (with the failed step) and processing_timeout (pending, no end time, started over PROCESSING_TIMEOUT ago; counted on every poll while true).",
		}, []string{"document_type", "outcome", "failed_step"}),
		PollingErrors: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_document_upload_polling_errors_total",
			Help: "Status endpoint calls that did not give a usable answer for every id, by reason.",
		}, []string{"reason"}),
		UnknownRequestIDs: f.NewCounter(prometheus.CounterOpts{
			Name: "form526_document_upload_unknown_request_ids_total",
			Help: "Request ids Lighthouse answered as not found, one per id per poll.",
		}),
		MalformedStatuses: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_document_upload_malformed_statuses_total",
			Help: "Status entries not applied as sent, by kind: missing_end_time, failed_without_error, unasked_id, duplicate_entry, missing_from_answer.",
		}, []string{"kind"}),
		Quarantined: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_document_upload_quarantined_total",
			Help: "Pending uploads quarantined because they cannot be polled, by reason: invalid_request_id, refused_by_lighthouse, missing_document_type, invalid_document_type. Each is left out of polling until released (worker uploads stuck lists them).",
		}, []string{"reason"}),
		DocumentsDue: f.NewGauge(prometheus.GaugeOpts{
			Name: "form526_document_upload_cycle_documents_due",
			Help: "Documents due for polling found by the latest cycle's fan-out.",
		}),
		PreviousCycleCompleted: f.NewGauge(prometheus.GaugeOpts{
			Name: "form526_document_upload_previous_cycle_documents_completed",
			Help: "Documents marked completed by the previous cycle's batches.",
		}),
		PreviousCycleFailed: f.NewGauge(prometheus.GaugeOpts{
			Name: "form526_document_upload_previous_cycle_documents_failed",
			Help: "Documents marked failed by the previous cycle's batches.",
		}),
		CyclesSkipped: f.NewCounter(prometheus.CounterOpts{
			Name: "form526_document_upload_cycles_skipped_total",
			Help: "Cron cycles skipped because the previous cycle still had batches in flight.",
		}),
		CycleErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "form526_document_upload_cycle_errors_total",
			Help: "Runs of a polling cycle's fan-out (a cron cycle, or worker poll) that failed with an error; a cycle task is retried. Each is logged at error level.",
		}),
		LastCycleFanOutTimestamp: f.NewGauge(prometheus.GaugeOpts{
			Name: "form526_document_upload_last_cycle_fan_out_timestamp_seconds",
			Help: "Unix time at which the latest cycle finished enqueueing its batches.",
		}),
		DocumentsDeferred: f.NewGauge(prometheus.GaugeOpts{
			Name: "form526_document_upload_cycle_documents_deferred",
			Help: "POLL_STRATEGY=adaptive: uploads due that the latest cron cycle left for a later cycle because it reached its share of LIGHTHOUSE_RATE_BUDGET.",
		}),
		OldestOverdue: f.NewGauge(prometheus.GaugeOpts{
			Name: "form526_document_upload_cycle_oldest_overdue_seconds",
			Help: "POLL_STRATEGY=adaptive: how long the most overdue upload the latest cron cycle claimed had been due (0 when it claimed none).",
		}),
		BatchesEnqueued: f.NewCounter(prometheus.CounterOpts{
			Name: "form526_document_upload_batches_enqueued_total",
			Help: "Status batch tasks enqueued by cycles and ad hoc polls.",
		}),
		NotificationsEnqueued: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_document_upload_notifications_enqueued_total",
			Help: "Failure follow-up tasks handed to the notification queue, by task type.",
		}, []string{"task_type"}),
		NotificationErrors: f.NewCounter(prometheus.CounterOpts{
			Name: "form526_document_upload_notification_enqueue_errors_total",
			Help: "Failed attempts to hand a follow-up task to Redis (it stays in the outbox and is retried).",
		}),
		OutboxUnsent: f.NewGauge(prometheus.GaugeOpts{
			Name: "form526_document_upload_outbox_unsent",
			Help: "Follow-up tasks waiting in the outbox.",
		}),
		NotificationsSkipped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "form526_document_upload_notifications_skipped_total",
			Help: "Failed Veteran Uploads whose follow-up email was not written because the upload has no form attachment guid to name, by reason: no_form_attachment, no_attachment_guid.",
		}, []string{"reason"}),
	}
	// Every reason is exported from the start, at 0, so that an alert on
	// its increase sees the first one.
	for _, r := range models.QuarantineReasons {
		m.Quarantined.WithLabelValues(r)
	}
	for _, r := range notificationSkipReasons {
		m.NotificationsSkipped.WithLabelValues(r)
	}
	return m
}
