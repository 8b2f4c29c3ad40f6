# Connects ActiveRecord to the database of DATABASE_URL as vets-api's Rails
# application is set up: Debian's ruby-activerecord and ruby-pg, times read
# and written in UTC (Rails' default time zone, which vets-api keeps), with
# ActiveSupport's core extensions loaded as a Rails application loads them
# (time attributes read as ActiveSupport::TimeWithZone), quiet.
require "active_support/all"
require "active_record"

ActiveRecord::Base.default_timezone = :utc
ActiveRecord::Base.time_zone_aware_attributes = true
Time.zone_default = Time.find_zone!("UTC")
ActiveRecord::Migration.verbose = false
ActiveRecord::Base.logger = nil
ActiveRecord::Base.establish_connection(ENV.fetch("DATABASE_URL"))
