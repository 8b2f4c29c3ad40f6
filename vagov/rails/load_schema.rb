# Makes VA.gov's tables (schema.rb) in the database of DATABASE_URL with
# ActiveRecord, as `rails db:schema:load` does: the specs' and the demo's
# VA.gov database. The database must exist; tables of the same names are
# replaced.
require_relative "connect"

load File.join(__dir__, "schema.rb")
