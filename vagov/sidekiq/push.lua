-- Push a Sidekiq job unless one was already pushed under the same
-- de-duplication key, in one atomic step.
--
-- KEYS[1] the de-duplication marker, KEYS[2] Sidekiq's `queues` set,
-- KEYS[3] the queue's list (`queue:<name>`), each in its namespace.
-- ARGV[1] the job's jid, ARGV[2] the marker's TTL in seconds, ARGV[3] the
-- queue's name, ARGV[4] the job's JSON.
--
-- Returns {1, jid} when it pushed, {0, jid of the earlier push} when not.
-- The marker is written last: a write that fails (a key of the wrong type)
-- leaves no marker, so the job is pushed again on the next try.
local earlier = redis.call('GET', KEYS[1])
if earlier then
  return {0, earlier}
end
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('LPUSH', KEYS[3], ARGV[4])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return {1, ARGV[1]}
