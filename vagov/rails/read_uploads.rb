# Prints every row of lighthouse526_document_uploads as vets-api's Rails
# reads it (models.rb), one JSON object a line, in id order: each attribute
# as ActiveRecord typed it, with the Ruby class it came as, the associated
# submission and attachment read through their associations, and whether the
# model would save the row as it is. Times are ActiveRecord's (UTC, in
# microseconds); jsonb columns are what ActiveRecord made of them (a Hash
# for a JSON object).
require "json"
require_relative "models"

# A time attribute: Time#iso8601(6) in the zone Rails read it in, and
# whether it came as Rails' zoned time (TimeWithZone.name says "Time").
def time(t)
  t && { "iso8601" => t.iso8601(6), "utc" => t.utc?, "zone" => t.zone, "time_with_zone" => t.is_a?(ActiveSupport::TimeWithZone) }
end

def typed(v)
  { "class" => v.class.name, "value" => v }
end

Lighthouse526DocumentUpload.order(:id).includes(:form526_submission, :form_attachment).each do |u|
  puts JSON.dump(
    "id" => u.id,
    "aasm_state" => u.aasm_state,
    "document_type" => u.document_type,
    "lighthouse_document_request_id" => u.lighthouse_document_request_id,
    "form526_submission_id" => u.form526_submission_id,
    "submission_user_uuid" => u.form526_submission&.user_uuid,
    "form_attachment_id" => u.form_attachment_id,
    "form_attachment_guid" => u.form_attachment&.guid,
    "form_attachment_class" => u.form_attachment&.class&.name,
    "lighthouse_processing_started_at" => time(u.lighthouse_processing_started_at),
    "lighthouse_processing_ended_at" => time(u.lighthouse_processing_ended_at),
    "status_last_polled_at" => time(u.status_last_polled_at),
    "created_at" => time(u.created_at),
    "updated_at" => time(u.updated_at),
    "error_message" => typed(u.error_message),
    "last_status_response" => typed(u.last_status_response),
    "valid" => u.valid?,
    "errors" => u.errors.full_messages,
    "changed" => u.changed?
  )
end
