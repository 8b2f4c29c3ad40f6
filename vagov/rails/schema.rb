# VA.gov's tables that the worker reads and writes, as vets-api's
# db/schema.rb has them, for ActiveRecord to make (load_schema.rb) in the
# specs' and the demo's databases. Written from the facts in
# ../shared/reference/original-system.md ("VA.gov's production as it really
# is"), as Rails 6.1 (Debian's ruby-activerecord) dumps them:
#
# - form526_submissions and form_attachments are Rails 4.2-era tables,
#   `id: :serial`: their keys are integer, not bigint;
# - lighthouse526_document_uploads has a bigint key and bigint foreign-key
#   columns onto those integer keys, its 4 indexes, and the two foreign keys;
# - form_attachments.guid is uuid NOT NULL, type varchar NOT NULL (Rails'
#   single-table inheritance: SupportingEvidenceAttachment, ...), unique
#   (guid, type);
# - every datetime is timestamp(6) without time zone (`precision: 6`, which
#   Rails 7's dump leaves implicit);
# - Flipper's two tables, as flipper-active_record 0.25's generator makes them
#   (lib/generators/flipper/templates/migration.erb of Debian's ruby-flipper),
#   where vets-api's feature flags live.
#
# Beside the columns the worker reads, each old table carries a few of the
# application's own that the worker never touches, as the real ones do (many
# more there). Migration 00001 of the worker (db/ddl/reference_tables.sql)
# makes the same three tables in an empty local database; a spec compares
# the two catalogues (db/vagov_tables_test.go).

ActiveRecord::Schema.define(version: 2024_06_20_000000) do
  enable_extension "plpgsql"

  create_table "flipper_features", force: :cascade do |t|
    t.string "key", null: false
    t.datetime "created_at", precision: 6, null: false
    t.datetime "updated_at", precision: 6, null: false
    t.index ["key"], name: "index_flipper_features_on_key", unique: true
  end

  create_table "flipper_gates", force: :cascade do |t|
    t.string "feature_key", null: false
    t.string "key", null: false
    t.string "value"
    t.datetime "created_at", precision: 6, null: false
    t.datetime "updated_at", precision: 6, null: false
    t.index ["feature_key", "key", "value"], name: "index_flipper_gates_on_feature_key_and_key_and_value", unique: true
  end

  create_table "form526_submissions", id: :serial, force: :cascade do |t|
    t.string "user_uuid"
    t.integer "saved_claim_id"
    t.integer "submitted_claim_id"
    t.text "form_json_ciphertext"
    t.boolean "workflow_complete", default: false, null: false
    t.datetime "created_at", precision: 6, null: false
    t.datetime "updated_at", precision: 6, null: false
    t.index ["saved_claim_id"], name: "index_form526_submissions_on_saved_claim_id", unique: true
    t.index ["user_uuid"], name: "index_form526_submissions_on_user_uuid"
  end

  create_table "form_attachments", id: :serial, force: :cascade do |t|
    t.datetime "created_at", precision: 6, null: false
    t.datetime "updated_at", precision: 6, null: false
    t.uuid "guid", null: false
    t.string "type", null: false
    t.text "file_data_ciphertext"
    t.index ["guid", "type"], name: "index_form_attachments_on_guid_and_type", unique: true
  end

  create_table "lighthouse526_document_uploads", force: :cascade do |t|
    t.bigint "form526_submission_id", null: false
    t.bigint "form_attachment_id"
    t.string "lighthouse_document_request_id", null: false
    t.string "aasm_state"
    t.string "document_type"
    t.datetime "lighthouse_processing_started_at", precision: 6
    t.datetime "lighthouse_processing_ended_at", precision: 6
    t.datetime "status_last_polled_at", precision: 6
    t.jsonb "error_message"
    t.jsonb "last_status_response"
    t.datetime "created_at", precision: 6, null: false
    t.datetime "updated_at", precision: 6, null: false
    t.index ["aasm_state"], name: "index_lighthouse526_document_uploads_on_aasm_state"
    t.index ["form526_submission_id"], name: "index_lighthouse526_document_uploads_on_form526_submission_id"
    t.index ["form_attachment_id"], name: "index_lighthouse526_document_uploads_on_form_attachment_id"
    t.index ["status_last_polled_at"], name: "index_lighthouse526_document_uploads_on_status_last_polled_at"
  end

  add_foreign_key "lighthouse526_document_uploads", "form526_submissions"
  add_foreign_key "lighthouse526_document_uploads", "form_attachments"
end
