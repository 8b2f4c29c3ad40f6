package sidekiq

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Census is where the jobs of one class are in a Sidekiq application's Redis
// at one moment: running on a live process, waiting on a queue, waiting to
// be retried, or scheduled. It is what Sidekiq's web UI shows on its Busy,
// Queues, Retries and Scheduled pages, read from the same keys (Sidekiq's
// lib/sidekiq/api.rb, read at 6.4.1 and 8.1.7):
//
//   - processes: the set of live process identities; an identity's own key
//     expires 60 s after its last heartbeat, so a dead process's identity
//     without that key is not counted;
//   - <identity>:work (Sidekiq 7 and later) or <identity>:workers (6): a
//     hash of thread id → {"queue","payload","run_at"}, the jobs the process
//     runs, rewritten at each heartbeat (every 10 s; 5 s in Sidekiq 6); the
//     payload is the job's JSON, as a string from Sidekiq 7 on;
//   - queues and queue:<name>: the queues and the jobs waiting on each;
//   - retry and schedule: sorted sets of jobs, scored by when they run.
//
// A job that a process has just taken is on no queue and not yet in its
// work hash until the next heartbeat: one census can miss it, so a caller
// that must be sure takes two, further apart than a heartbeat (Settled).
type Census struct {
	Class string `json:"class"`
	// Processes is how many live Sidekiq processes the Redis has.
	Processes int        `json:"processes"`
	Running   []Sighting `json:"running"`
	Queued    []Sighting `json:"queued"`
	Retrying  []Sighting `json:"retrying"`
	Scheduled []Sighting `json:"scheduled"`
	TakenAt   time.Time  `json:"taken_at"`
}

// Sighting is one job of the class, where the census found it.
type Sighting struct {
	JID   string `json:"jid"`
	Queue string `json:"queue,omitempty"`
	// At: running since, enqueued at, to be retried at, or scheduled for.
	At time.Time `json:"at"`
	// Process is the identity of the process running it.
	Process string `json:"process,omitempty"`
	// RetryCount is how many retries the job has had (Sidekiq's retry_count:
	// 0 after its first failure), and Retry how many it may have.
	RetryCount *int `json:"retry_count,omitempty"`
	Retry      any  `json:"retry,omitempty"`
	// ErrorClass and ErrorMessage are its last failure's.
	ErrorClass   string `json:"error_class,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
}

// Jobs is how many jobs of the class the census found, wherever.
func (c Census) Jobs() int {
	return len(c.Running) + len(c.Queued) + len(c.Retrying) + len(c.Scheduled)
}

// Clear reports whether no job of the class is running, queued, retrying or
// scheduled, on a Redis where Sidekiq runs (at least one live process: an
// empty Redis is no evidence that nothing runs).
func (c Census) Clear() bool { return c.Processes > 0 && c.Jobs() == 0 }

// Settled takes a census, and when it is clear, another one settle later
// (more than a heartbeat, so that a job taken off its queue just before the
// first is in its process's work hash by the second): clear only when both
// are. It returns the last census taken.
func Settled(ctx context.Context, rdb redis.UniversalClient, namespace, class string, settle time.Duration) (Census, error) {
	first, err := TakeCensus(ctx, rdb, namespace, class)
	if err != nil || !first.Clear() || settle <= 0 {
		return first, err
	}
	t := time.NewTimer(settle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return first, ctx.Err()
	case <-t.C:
	}
	return TakeCensus(ctx, rdb, namespace, class)
}

// scanCount is how many entries each SCAN-like call asks for.
const scanCount = 500

// TakeCensus finds the jobs of class on a Sidekiq application's Redis (under
// namespace, "" for none). It only reads.
func TakeCensus(ctx context.Context, rdb redis.UniversalClient, namespace, class string) (Census, error) {
	if class == "" || strings.ContainsAny(class, "*?[]\\\" \t\r\n") {
		return Census{}, fmt.Errorf("sidekiq: census: %q is not a Ruby class name", class)
	}
	k := keys{namespace}
	c := Census{Class: class, TakenAt: time.Now().UTC()}
	var err error
	if c.Processes, c.Running, err = running(ctx, rdb, k, class); err != nil {
		return Census{}, err
	}
	if c.Queued, err = queued(ctx, rdb, k, class); err != nil {
		return Census{}, err
	}
	if c.Retrying, err = sortedSet(ctx, rdb, k.of("retry"), class); err != nil {
		return Census{}, err
	}
	if c.Scheduled, err = sortedSet(ctx, rdb, k.of("schedule"), class); err != nil {
		return Census{}, err
	}
	return c, nil
}

type keys struct{ namespace string }

func (k keys) of(name string) string {
	if k.namespace == "" {
		return name
	}
	return k.namespace + ":" + name
}

// running counts the live processes and finds the class's jobs they run.
func running(ctx context.Context, rdb redis.UniversalClient, k keys, class string) (int, []Sighting, error) {
	identities, err := rdb.SMembers(ctx, k.of("processes")).Result()
	if err != nil {
		return 0, nil, fmt.Errorf("sidekiq: census: processes: %w", err)
	}
	sort.Strings(identities)
	live := 0
	var out []Sighting
	for _, id := range identities {
		n, err := rdb.Exists(ctx, k.of(id)).Result()
		if err != nil {
			return 0, nil, fmt.Errorf("sidekiq: census: process %s: %w", id, err)
		}
		if n == 0 {
			continue // its heartbeat expired: a dead process
		}
		live++
		for _, hash := range []string{k.of(id + ":work"), k.of(id + ":workers")} {
			work, err := rdb.HGetAll(ctx, hash).Result()
			if err != nil {
				return 0, nil, fmt.Errorf("sidekiq: census: %s: %w", hash, err)
			}
			for _, raw := range work {
				if !strings.Contains(raw, class) {
					continue
				}
				var w struct {
					Queue   string          `json:"queue"`
					Payload json.RawMessage `json:"payload"`
					RunAt   float64         `json:"run_at"`
				}
				if json.Unmarshal([]byte(raw), &w) != nil {
					continue
				}
				payload := []byte(w.Payload)
				var s string
				if json.Unmarshal(w.Payload, &s) == nil { // Sidekiq 7 on: the job as a JSON string
					payload = []byte(s)
				}
				j, ok := parseJob(payload, class)
				if !ok {
					continue
				}
				sg := j.sighting(epoch(w.RunAt))
				sg.Queue, sg.Process = w.Queue, id
				out = append(out, sg)
			}
		}
	}
	return live, out, nil
}

// queued finds the class's jobs waiting on every queue, oldest first.
func queued(ctx context.Context, rdb redis.UniversalClient, k keys, class string) ([]Sighting, error) {
	names, err := rdb.SMembers(ctx, k.of("queues")).Result()
	if err != nil {
		return nil, fmt.Errorf("sidekiq: census: queues: %w", err)
	}
	sort.Strings(names)
	var out []Sighting
	for _, q := range names {
		key := k.of("queue:" + q)
		for start := int64(0); ; start += scanCount {
			jobs, err := rdb.LRange(ctx, key, start, start+scanCount-1).Result()
			if err != nil {
				return nil, fmt.Errorf("sidekiq: census: queue %s: %w", q, err)
			}
			for _, raw := range jobs {
				if !strings.Contains(raw, class) {
					continue
				}
				if j, ok := parseJob([]byte(raw), class); ok {
					sg := j.sighting(epoch(j.EnqueuedAt))
					sg.Queue = q
					out = append(out, sg)
				}
			}
			if len(jobs) < scanCount {
				break
			}
		}
	}
	return out, nil
}

// sortedSet finds the class's jobs in retry or schedule, soonest first.
// ZSCAN's MATCH keeps the others on the server.
func sortedSet(ctx context.Context, rdb redis.UniversalClient, key, class string) ([]Sighting, error) {
	var out []Sighting
	var cursor uint64
	for {
		members, next, err := rdb.ZScan(ctx, key, cursor, "*"+class+"*", scanCount).Result()
		if err != nil {
			return nil, fmt.Errorf("sidekiq: census: %s: %w", key, err)
		}
		for i := 0; i+1 < len(members); i += 2 {
			j, ok := parseJob([]byte(members[i]), class)
			if !ok {
				continue
			}
			score, err := strconv.ParseFloat(members[i+1], 64)
			if err != nil {
				continue
			}
			out = append(out, j.sighting(epoch(score)))
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	// ZSCAN may return a member twice (a rehash during the scan).
	sort.Slice(out, func(a, b int) bool { return out[a].At.Before(out[b].At) })
	return dedupe(out), nil
}

func dedupe(s []Sighting) []Sighting {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, sg := range s {
		key := sg.JID + "@" + sg.At.String()
		if !seen[key] {
			seen[key] = true
			out = append(out, sg)
		}
	}
	return out
}

// censusJob is what a census reads of a job.
type censusJob struct {
	Class        string  `json:"class"`
	Wrapped      string  `json:"wrapped"` // ActiveJob's adapter: the job's own class
	JID          string  `json:"jid"`
	Queue        string  `json:"queue"`
	Retry        any     `json:"retry"`
	RetryCount   *int    `json:"retry_count"`
	ErrorClass   string  `json:"error_class"`
	ErrorMessage string  `json:"error_message"`
	EnqueuedAt   float64 `json:"enqueued_at"`
}

// parseJob reads a job's JSON and reports whether it is of class.
func parseJob(raw []byte, class string) (censusJob, bool) {
	var j censusJob
	if json.Unmarshal(raw, &j) != nil {
		return censusJob{}, false
	}
	return j, j.Class == class || j.Wrapped == class
}

func (j censusJob) sighting(at time.Time) Sighting {
	return Sighting{JID: j.JID, Queue: j.Queue, At: at, RetryCount: j.RetryCount, Retry: j.Retry,
		ErrorClass: j.ErrorClass, ErrorMessage: j.ErrorMessage}
}

// epoch reads Sidekiq's times: seconds (a float, Sidekiq 7 and before) or
// milliseconds (an integer, Sidekiq 8's created_at and enqueued_at).
func epoch(t float64) time.Time {
	if t == 0 {
		return time.Time{}
	}
	if t > 1e11 { // past the year 5138 in seconds: milliseconds
		return time.UnixMilli(int64(t)).UTC()
	}
	sec := int64(t)
	return time.Unix(sec, int64((t-float64(sec))*1e9)).UTC()
}
