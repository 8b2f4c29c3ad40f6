# Enqueues Lighthouse::Form526DocumentUploadPollingJob with Sidekiq's own
# client, as Sidekiq's cron does (perform_async), onto the queue ARGV[0];
# with a number of seconds as ARGV[1], schedules it that far ahead instead
# (perform_in). Prints the job's jid.
require_relative "polling_job"

job = Lighthouse::Form526DocumentUploadPollingJob.set(queue: ARGV.fetch(0))
jid = ARGV[1] ? job.perform_in(Integer(ARGV[1])) : job.perform_async
print jid
