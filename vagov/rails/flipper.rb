# Turns a Flipper feature on or off as VA.gov's operators do (Flipper UI,
# Flipper.enable), with Debian's ruby-flipper and its ActiveRecord adapter on
# the database of DATABASE_URL: it writes flipper_features and flipper_gates.
#
#   ruby flipper.rb FEATURE enable                    boolean gate on
#   ruby flipper.rb FEATURE disable                   every gate cleared
#   ruby flipper.rb FEATURE percentage_of_time N      on for N% of checks
#   ruby flipper.rb FEATURE percentage_of_actors N    on for N% of actors
#   ruby flipper.rb FEATURE actor ID                  on for one actor (flipper_id ID)
#   ruby flipper.rb FEATURE group NAME                on for a registered group
#   ruby flipper.rb FEATURE add                       known, every gate off
#   ruby flipper.rb FEATURE remove                    forgotten
#
# Then prints the feature as Flipper sees it: its state, its gate values and
# whether Flipper.enabled?(FEATURE) with no actor is true, as one JSON line.
require "json"
require "flipper"
require "flipper/adapters/active_record"
require_relative "connect"

feature_name, action, arg = ARGV
abort "usage: flipper.rb FEATURE enable|disable|percentage_of_time N|percentage_of_actors N|actor ID|group NAME|add|remove" if feature_name.nil? || action.nil?

Actor = Struct.new(:flipper_id)
flipper = Flipper.new(Flipper::Adapters::ActiveRecord.new)
Flipper.register(arg.to_sym) { |_actor| true } if action == "group"
feature = flipper[feature_name]
case action
when "enable" then feature.enable
when "disable" then feature.disable
when "percentage_of_time" then feature.enable_percentage_of_time(Integer(arg))
when "percentage_of_actors" then feature.enable_percentage_of_actors(Integer(arg))
when "actor" then feature.enable_actor(Actor.new(arg))
when "group" then feature.enable_group(arg.to_sym)
when "add" then feature.add
when "remove" then feature.remove
else abort "flipper.rb: unknown action #{action}"
end

values = feature.gate_values
puts JSON.dump(
  "feature" => feature_name,
  "state" => feature.state.to_s,
  "enabled_without_actor" => flipper.enabled?(feature_name),
  "boolean" => values.boolean,
  "percentage_of_time" => values.percentage_of_time,
  "percentage_of_actors" => values.percentage_of_actors,
  "actors" => values.actors.to_a,
  "groups" => values.groups.to_a
)
