# Pushes one Form0781DocumentUploadFailureEmail with Sidekiq's own client, as
# VA.gov's API did (perform_async), onto the queue ARGV[0] with the
# submission id ARGV[1]: the reference the worker's pushes are compared with.
require_relative "jobs"

EVSS::DisabilityCompensationForm::Form0781DocumentUploadFailureEmail.set(queue: ARGV.fetch(0)).perform_async(Integer(ARGV.fetch(1)))
