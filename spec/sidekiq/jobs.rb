# Stand-ins for VA.gov's failure email jobs (vets-api,
# app/sidekiq/evss/disability_compensation_form/): the same class names,
# perform arities and retry option. Instead of emailing the veteran, each
# records what it was performed with (class, args, jid) as one JSON line on
# the Redis list SPEC_PERFORMED_KEY, which spec/sidekiq_test.go reads.
# REDIS_URL and SIDEKIQ_NAMESPACE (optional) say where Sidekiq works.
require "json"
require "sidekiq"

redis = { url: ENV.fetch("REDIS_URL") }
redis[:namespace] = ENV["SIDEKIQ_NAMESPACE"] unless ENV["SIDEKIQ_NAMESPACE"].to_s.empty?
Sidekiq.configure_server { |config| config.redis = redis }
Sidekiq.configure_client { |config| config.redis = redis }

module EVSS
  module DisabilityCompensationForm
    # Records a performed job instead of sending its email.
    module RecordsPerform
      def record(*args)
        line = JSON.dump("class" => self.class.name, "args" => args, "jid" => jid)
        Sidekiq.redis { |conn| conn.rpush(ENV.fetch("SPEC_PERFORMED_KEY"), line) }
      end
    end

    class Form526DocumentUploadFailureEmail
      include Sidekiq::Job
      include RecordsPerform
      sidekiq_options retry: 16

      def perform(form526_submission_id, supporting_evidence_attachment_guid)
        record(form526_submission_id, supporting_evidence_attachment_guid)
      end
    end

    class Form0781DocumentUploadFailureEmail
      include Sidekiq::Job
      include RecordsPerform
      sidekiq_options retry: 16

      def perform(form526_submission_id)
        record(form526_submission_id)
      end
    end
  end
end
