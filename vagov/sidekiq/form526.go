package sidekiq

// VA.gov's failure email jobs of Form 526 supplemental documents
// (vets-api, app/sidekiq/evss/disability_compensation_form/), which its
// polling job enqueued with perform_async when Lighthouse reported an upload
// failed. Their class names and arguments are a contract with that code:
// never rename or reorder them.
const (
	// ClassForm526DocumentUploadFailureEmail emails the veteran that one of
	// their own uploads ("Veteran Upload") did not reach their claim file.
	ClassForm526DocumentUploadFailureEmail = "EVSS::DisabilityCompensationForm::Form526DocumentUploadFailureEmail"
	// ClassForm0781DocumentUploadFailureEmail emails the veteran that their
	// Form 0781 or 0781a did not reach their claim file.
	ClassForm0781DocumentUploadFailureEmail = "EVSS::DisabilityCompensationForm::Form0781DocumentUploadFailureEmail"

	// FailureEmailRetry is both classes' `sidekiq_options retry: 16` (about
	// two days of Sidekiq's backoff; earlier versions of the classes had 14),
	// which Sidekiq's client writes into each job it pushes.
	FailureEmailRetry = 16
)

// Form526DocumentUploadFailureEmail is the job
// perform_async(form526_submission_id, form_attachment.guid).
func Form526DocumentUploadFailureEmail(form526SubmissionID int64, formAttachmentGUID string) Job {
	return Job{
		Class: ClassForm526DocumentUploadFailureEmail,
		Args:  []any{form526SubmissionID, formAttachmentGUID},
		Retry: FailureEmailRetry,
	}
}

// Form0781DocumentUploadFailureEmail is the job
// perform_async(form526_submission_id).
func Form0781DocumentUploadFailureEmail(form526SubmissionID int64) Job {
	return Job{
		Class: ClassForm0781DocumentUploadFailureEmail,
		Args:  []any{form526SubmissionID},
		Retry: FailureEmailRetry,
	}
}
