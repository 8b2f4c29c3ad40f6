package tasks

import "github.com/vagov/lighthouse526/polling"

// LogMessages returns every fixed log message that monitors may match on: the
// original job's (never reworded; existing monitors match on them) and the
// worker's own warnings and errors that have a constant, polling's and the
// task types'. The Datadog monitors of deploy/datadog are checked against
// this list, so a reworded message fails their spec instead of silencing a
// monitor.
func LogMessages() []string {
	return append(polling.LogMessages(),
		logBatchRefused,
		logBatchTooLarge,
		logRejected,
		logStatusRequestFailed,
	)
}
