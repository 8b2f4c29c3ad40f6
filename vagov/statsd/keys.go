package statsd

import "strings"

// The original's StatsD keys. Datadog dashboards and monitors were built on
// them: never rename one, nor add a prefix.
const (
	// DocumentStatusPrefix starts the per-document keys:
	// <prefix><type>.complete, <type>.failed.<step>, <type>.processing_timeout.
	DocumentStatusPrefix = "api.form526.lighthouse_document_upload_processing_status."
	// PollingJobPrefix starts the keys of the polling job itself.
	PollingJobPrefix = "worker.lighthouse.poll_form526_document_uploads."

	// KeyPollingError counts what the original counted
	// (original-system.md, "The polling job" and "Metrics"): answers with
	// unknown ids (a partial 200, or an all-unknown 404) and status calls
	// refused with another 4xx, which the original's client did not raise on.
	// Never a transport failure, a timeout, a 5xx or a token failure: those
	// are KeyStatusRequestFailed.
	KeyPollingError = PollingJobPrefix + "polling_error"
	// KeyExhausted counts polling cycles whose retries ran out, once per
	// cycle whatever the number of its tasks that did (the original: "once
	// per hourly run whose 7 retries are exhausted").
	KeyExhausted = PollingJobPrefix + "exhausted"
	// KeyPendingDocumentsPolled is the gauge of documents due at a cycle's
	// start, sent before its first call (the original: "sent at the run's
	// start, before any call").
	KeyPendingDocumentsPolled = PollingJobPrefix + "pending_documents_polled"
	// KeyPendingDocumentsMarkedCompleted is the gauge of documents a cycle completed.
	KeyPendingDocumentsMarkedCompleted = PollingJobPrefix + "pending_documents_marked_completed"
	// KeyPendingDocumentsMarkedFailed is the gauge of documents a cycle failed.
	KeyPendingDocumentsMarkedFailed = PollingJobPrefix + "pending_documents_marked_failed"
)

// The worker's own keys: under a prefix of its own, never the original's,
// so that nothing built on the original's keys changes meaning.
const (
	// WorkerPrefix starts the worker's own keys.
	WorkerPrefix = "lighthouse526.polling_job."
	// KeyStatusRequestFailed counts status calls that failed where the
	// original's client raised and failed its run, which it did not count as
	// a polling error: transport failures, timeouts, 5xx, token failures and
	// unreadable answers. The batch retries.
	KeyStatusRequestFailed = WorkerPrefix + "status_request_failed"
)

// Suffixes of the per-document keys.
const (
	suffixComplete          = ".complete"
	suffixFailed            = ".failed."
	suffixProcessingTimeout = ".processing_timeout"
)

// DocumentTypes are the <type> segments of the per-document keys, one per
// document type ("Veteran Upload" → veteran_upload).
var DocumentTypes = []string{"veteran_upload", "bdd_instructions", "form_0781", "form_0781a"}

// CompleteKey is the counter of documents of docType that completed.
func CompleteKey(docType string) string {
	return DocumentStatusPrefix + docType + suffixComplete
}

// FailedKey is the counter of documents of docType that failed at step.
func FailedKey(docType, step string) string {
	return DocumentStatusPrefix + docType + suffixFailed + StepSegment(step)
}

// ProcessingTimeoutKey is the counter of polls that found a document of
// docType still in progress past the processing timeout.
func ProcessingTimeoutKey(docType string) string {
	return DocumentStatusPrefix + docType + suffixProcessingTimeout
}

// maxStepLen bounds a step segment: Lighthouse's steps are short names.
const maxStepLen = 64

// StepSegment is a failed step as the last segment of a key: lower-cased,
// as the original did ("CLAIMS_EVIDENCE" → claims_evidence). The step comes
// from Lighthouse's answer, so anything but a letter, a digit or an
// underscore becomes "_": a ':', '|', '@', '#' or newline would break the
// DogStatsD line, and a '.' would add a level to the key. An empty step is
// "unknown", as the Prometheus label has it.
func StepSegment(step string) string {
	if step == "" {
		return "unknown"
	}
	if len(step) > maxStepLen {
		step = step[:maxStepLen]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '_'
	}, step)
}
