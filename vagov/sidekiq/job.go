// Package sidekiq pushes jobs onto a Sidekiq queue in Redis exactly as
// Sidekiq's own Ruby client does, so that a Ruby application's Sidekiq
// processes perform them: VA.gov's API runs its email jobs on Sidekiq, and
// this is how the worker hands them the failure follow-ups.
//
// What a push writes, from Sidekiq's client (lib/sidekiq/client.rb
// atomic_push and lib/sidekiq/job_util.rb normalize_item, read at 6.4.1,
// 7.3.10 and 8.1.7): SADD queues <queue>, then LPUSH queue:<queue> <job>,
// where <job> is the JSON object that perform_async builds:
//
//	{"retry":16,"queue":"default","args":[...],"class":"...","jid":"<24 hex>","created_at":1795844192.1863778,"enqueued_at":1795844192.1864102}
//
// Every key is written under an optional namespace ("ns:queue:default"), as
// redis-namespace does for Sidekiq applications configured with one.
//
// Each push carries a de-duplication key: the push and a marker for that key
// are one Lua script, so pushing the same key again, after a crash that kept
// the caller from recording the first push, pushes nothing.
package sidekiq

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Job is one Sidekiq job: the class Sidekiq instantiates and the arguments of
// its perform method, which must be plain JSON values (numbers, strings,
// booleans, nil, arrays and string-keyed maps of those), as Sidekiq's strict
// arguments require.
type Job struct {
	Class string
	Args  []any
	// Retry is the job class's `sidekiq_options retry:`, which Sidekiq's
	// client copies into the job: how many times Sidekiq retries it before
	// it dies (0: straight to the dead set).
	Retry int
	// Queue overrides the client's queue when set.
	Queue string
}

// Validate refuses a job that Sidekiq's client would refuse (no class,
// arguments that are not an array) or that no Ruby class could be named by.
func (j Job) Validate() error {
	switch {
	case j.Class == "":
		return errors.New("sidekiq: job has no class")
	case strings.ContainsAny(j.Class, " \t\r\n"):
		return fmt.Errorf("sidekiq: job class %q is not a Ruby class name", j.Class)
	case j.Args == nil:
		return fmt.Errorf("sidekiq: job %s has no args array", j.Class)
	case j.Retry < 0:
		return fmt.Errorf("sidekiq: job %s has a negative retry count", j.Class)
	}
	return nil
}

// payload is the job as Sidekiq's client serialises it, members in the order
// perform_async writes them (the class's sidekiq_options first, then args
// and class, then what normalize_item and atomic_push add). Readers do not
// depend on the order; it is kept so that a job pushed here and one pushed
// by Ruby look alike in Sidekiq's web UI and in Redis.
type payload struct {
	Retry      int       `json:"retry"`
	Queue      string    `json:"queue"`
	Args       []any     `json:"args"`
	Class      string    `json:"class"`
	JID        string    `json:"jid"`
	CreatedAt  Timestamp `json:"created_at"`
	EnqueuedAt Timestamp `json:"enqueued_at"`
}

// encode renders the job for queue with its jid and times.
func (j Job) encode(queue, jid string, createdAt, enqueuedAt time.Time) ([]byte, error) {
	b, err := json.Marshal(payload{
		Retry: j.Retry, Queue: queue, Args: j.Args, Class: j.Class, JID: jid,
		CreatedAt: Timestamp(createdAt), EnqueuedAt: Timestamp(enqueuedAt),
	})
	if err != nil {
		return nil, fmt.Errorf("sidekiq: job %s: args are not plain JSON values: %w", j.Class, err)
	}
	return b, nil
}

// newJID is a job id as Sidekiq's client makes one (SecureRandom.hex(12)):
// 12 random bytes, 24 lower-case hex digits.
func newJID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sidekiq: job id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Timestamp is a job's created_at or enqueued_at: seconds since the epoch as
// a JSON number that always has a fraction, as Sidekiq 6 and 7 write them
// (Ruby's Time.now.to_f, e.g. 1795844192.1863778, or 1795844192.0 on a whole
// second).
//
// Sidekiq 8 writes integer milliseconds instead, but reads both: a value that
// Ruby's JSON parser returns as a Float is taken as seconds, any other as
// milliseconds (Sidekiq::ApiUtils#calculate_latency and
// JobRecord#time_from_timestamp, kept for jobs that 7's clients push during
// an upgrade). Sidekiq 6 and 7 only read seconds: milliseconds would put a
// job in the year 58000 and make its queue's latency negative. So seconds,
// with the fraction that makes Ruby parse a Float: a whole second written
// as 1795844192 would be read by Sidekiq 8 as 1970.
type Timestamp time.Time

// MarshalJSON writes the seconds with microsecond precision, the shortest
// form that reads back exactly, and never without a fraction.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	secs := float64(time.Time(t).UnixMicro()) / 1e6
	s := strconv.FormatFloat(secs, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return []byte(s), nil
}
