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

	// KeyPollingError counts status answers with unknown ids (a partial 200
	// or an all-unknown 404) and failed status calls.
	KeyPollingError = PollingJobPrefix + "polling_error"
	// KeyExhausted counts polling tasks that will never run again.
	KeyExhausted = PollingJobPrefix + "exhausted"
	// KeyPendingDocumentsPolled is the gauge of documents due at a cycle's start.
	KeyPendingDocumentsPolled = PollingJobPrefix + "pending_documents_polled"
	// KeyPendingDocumentsMarkedCompleted is the gauge of documents a cycle completed.
	KeyPendingDocumentsMarkedCompleted = PollingJobPrefix + "pending_documents_marked_completed"
	// KeyPendingDocumentsMarkedFailed is the gauge of documents a cycle failed.
	KeyPendingDocumentsMarkedFailed = PollingJobPrefix + "pending_documents_marked_failed"
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
