# Retries the polling job's runs waiting in the retry set now, as the "Retry
# Now" button of Sidekiq's web UI does (Sidekiq::SortedEntry#retry): each
# goes back onto its queue at once instead of waiting out its backoff.
require_relative "polling_job"
require "sidekiq/api"

Sidekiq::RetrySet.new.select { |job| job.klass == "Lighthouse::Form526DocumentUploadPollingJob" }.each(&:retry)
