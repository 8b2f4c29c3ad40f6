package tasks

// LogMessages returns every fixed log message that monitors may match on: the
// original job's messages (never reworded; existing monitors match on them)
// and the worker's own warnings and errors that have a constant. The
// Datadog monitors of deploy/datadog are checked against this list, so a
// reworded message fails their spec instead of silencing a monitor.
func LogMessages() []string {
	return []string{
		// The original's.
		logStatusUpdated,
		logFailedUploadStatus,
		logStatusEndpointError,
		logRetriesExhausted,
		logNoDocumentsToPoll,
		logNoStatuses,
		// The worker's own.
		logQuarantined,
		logNotificationSkipped,
		logBatchRefused,
		logBatchTooLarge,
		logRejected,
	}
}
