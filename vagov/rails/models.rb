# ActiveRecord models of VA.gov's three tables, written from
# ../shared/reference/original-system.md (Data, State machine, its test
# cases): what vets-api reads the worker's rows through. Debian ships no aasm
# gem, so the state machine is its states and guards as validations: a row
# Rails would refuse to save (an unknown state, a completed upload without
# its end time) is invalid here.
require_relative "connect"

class Form526Submission < ActiveRecord::Base
  has_many :lighthouse526_document_uploads
end

# form_attachments uses single-table inheritance on `type`: a row Rails
# loads must name one of these classes.
class FormAttachment < ActiveRecord::Base
end

class SupportingEvidenceAttachment < FormAttachment
end

class Lighthouse526DocumentUpload < ActiveRecord::Base
  VETERAN_UPLOAD = "Veteran Upload"
  DOCUMENT_TYPES = ["BDD Instructions", "Form 0781", "Form 0781a", VETERAN_UPLOAD].freeze
  STATES = %w[pending completed failed].freeze

  belongs_to :form526_submission
  belongs_to :form_attachment, optional: true

  validates :lighthouse_document_request_id, presence: true
  validates :document_type, inclusion: { in: DOCUMENT_TYPES }
  validates :form_attachment, presence: true, if: -> { document_type == VETERAN_UPLOAD }
  validates :aasm_state, inclusion: { in: STATES }
  validates :lighthouse_processing_ended_at, presence: true, if: -> { %w[completed failed].include?(aasm_state) }
  validates :error_message, presence: true, if: -> { aasm_state == "failed" }
end
