# Prints the jobs waiting on the Sidekiq queue ARGV[0] as Sidekiq's own API
# reads them (Sidekiq::Queue, Sidekiq::JobRecord), one JSON object a line,
# oldest first, then the queue's latency: what Sidekiq's web UI and latency
# metrics make of the jobs the worker pushed. "*_is_float" is the test that
# Sidekiq 8 applies to tell seconds (a Float) from its own milliseconds.
require_relative "jobs"
require "sidekiq/api"

queue = Sidekiq::Queue.new(ARGV.fetch(0))
queue.to_a.reverse_each do |job|
  puts JSON.dump(
    "raw" => job.value, "class" => job.klass, "args" => job.args, "jid" => job.jid, "retry" => job["retry"],
    "created_at" => job.created_at.to_f, "enqueued_at" => job.enqueued_at.to_f,
    "created_at_is_float" => job["created_at"].is_a?(Float), "enqueued_at_is_float" => job["enqueued_at"].is_a?(Float)
  )
end
puts JSON.dump("latency" => queue.latency)
