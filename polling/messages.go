package polling

// The original's log messages, which existing monitors match on: a
// contract, never reword them.
const (
	LogStatusUpdated       = "BenefitsDocuments::Form526::UploadStatusUpdater"
	LogFailedUploadStatus  = "Benefits Documents API responded with a failed document upload status"
	LogStatusEndpointError = "Lighthouse::Form526DocumentUploadPollingJob status endpoint error"
	LogRetriesExhausted    = "Lighthouse::Form526DocumentUploadPollingJob retries exhausted"
	LogNoDocumentsToPoll   = "Lighthouse::Form526DocumentUploadPollingJob found no documents to poll"
	LogNoStatuses          = "Lighthouse::UpdateDocumentsStatusService found no statuses in response"
)

// LogMessages are the fixed log messages of polling that monitors may match
// on: the original job's (never reworded) and polling's own warnings.
// tasks.LogMessages adds the task types' own.
func LogMessages() []string {
	return []string{
		// The original's.
		LogStatusUpdated,
		LogFailedUploadStatus,
		LogStatusEndpointError,
		LogRetriesExhausted,
		LogNoDocumentsToPoll,
		LogNoStatuses,
		// Polling's own.
		logQuarantined,
		logNotificationSkipped,
		logBatchRefused,
		logCycleFailed,
		logStatusRequestFailed,
		logBatchTooLarge,
	}
}
