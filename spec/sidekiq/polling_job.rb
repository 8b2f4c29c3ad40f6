# A stand-in for VA.gov's polling job (vets-api,
# app/sidekiq/lighthouse/form526_document_upload_polling_job.rb): the same
# class name and `sidekiq_options retry: 7`, so that Sidekiq retries it as it
# retries the original. What a run does is read from the Redis key
# SPEC_MODE_KEY at each run: "fail" raises (a run that fails and is retried,
# as the original's on a 5xx or a timeout), "hold" keeps running until the
# key says otherwise (at most 90 s), anything else finishes and records the
# run on SPEC_PERFORMED_KEY as jobs.rb's jobs do.
require_relative "jobs"

module Lighthouse
  class Form526DocumentUploadPollingJob
    include Sidekiq::Job
    sidekiq_options retry: 7

    def perform
      mode = -> { Sidekiq.redis { |conn| conn.get(ENV.fetch("SPEC_MODE_KEY")) } }
      raise "Lighthouse answered 503 (spec)" if mode.call == "fail"

      deadline = Time.now + 90
      sleep 0.1 while mode.call == "hold" && Time.now < deadline
      line = JSON.dump("class" => self.class.name, "args" => [], "jid" => jid)
      Sidekiq.redis { |conn| conn.rpush(ENV.fetch("SPEC_PERFORMED_KEY"), line) }
    end
  end
end
