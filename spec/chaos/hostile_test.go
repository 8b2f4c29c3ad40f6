package chaos_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// One bad answer never stops polling: 1% of Lighthouse's status entries
// hostile in every way issue 23 found (each once failed its whole batch,
// every cycle, or was stored and logged whole), and one 429 asking to
// wait for centuries (which once paused every replica for 246 years).
var _ = Describe("The worker under hostile answers", func() {
	Context("when 1% of status entries are hostile and one 429 asks for centuries", func() {
		always("applies every sound entry, fails no batch for one entry, pauses no longer than the cap, and loses nothing", func(ctx SpecContext) {
			const maxRetryAfter = 3 * time.Second
			s := newScenario(ctx, "lighthouse hostile entries", options{docs: docs, replicas: 2,
				env: map[string]string{"LIGHTHOUSE_MAX_RETRY_AFTER": maxRetryAfter.String()}})
			pauseKey := envOf(s.workerEnv, "REDIS_KEY_PREFIX") + "pause"
			longest := watchTTL(ctx, pauseKey)

			cycles := sizes(2, 3)
			for c := range cycles {
				s.cycle(ctx, func(context.Context) {
					// The short form's few hundred uploads need more than 1%
					// for every kind to be served: about 35 hostile entries
					// where 8 are needed (the kinds are served in turn).
					f := fake.Faults{HostileRate: sizes(0.10, 0.01)}
					if c == 0 {
						f.Next = []fake.Fault{{Endpoint: "uploads_status", Status: http.StatusTooManyRequests, Shape: fake.ShapeGateway,
							Headers: map[string]string{"Retry-After": "99999999999"}}}
					}
					s.fake.SetFaults(f)
				})
				// A batch failed by an entry is retried, and asks its ids again.
				Expect(answeredTwice(s.fake)).To(BeEmpty(), "cycle %d: request ids answered twice (a batch failed and was retried)", c+1)
			}
			served := s.fake.HostileServed()
			s.fault("%d cycles with %.0f%% of status entries hostile (served: %s), the first also a 429 with Retry-After: 99999999999 (LIGHTHOUSE_MAX_RETRY_AFTER=%s)",
				cycles, 100*sizes(0.10, 0.01), describeCounts(served), maxRetryAfter)
			for _, kind := range fake.HostileKinds {
				Expect(served).To(HaveKey(kind), "the run served no %s entry", kind)
			}
			Expect(longest()).To(And(BeNumerically(">", 0), BeNumerically("<=", maxRetryAfter)), "the pause key's TTL")

			logs := s.replicaLogs()
			Expect(logs.count("longer than LIGHTHOUSE_MAX_RETRY_AFTER")).To(BeNumerically(">=", 1))
			Expect(logs.count(`"header_value":"99999999999"`)).To(BeNumerically(">=", 1))
			Expect(logs.count("repaired a Lighthouse status entry before applying it")).To(BeNumerically(">=", 1))
			Expect(logs.count("ignored a status entry that cannot be read or stored")).To(BeNumerically(">=", 1))
			for _, never := range []string{"timestamp out of range", "invalid surrogate", "invalid UTF-8", "apply statuses"} {
				Expect(logs.count(never)).To(BeZero(), "a log line with %q", never)
			}
			Expect(logs.longest).To(BeNumerically("<", 1<<20), "a log line of a megabyte or more")

			var biggest struct{ Status, Error int64 }
			Expect(w.gdb.WithContext(ctx).Raw(`SELECT coalesce(max(octet_length(last_status_response::text)), 0) AS status,
				coalesce(max(octet_length(error_message::text)), 0) AS error FROM lighthouse526_document_uploads`).Scan(&biggest).Error).To(Succeed())
			Expect(biggest.Status).To(BeNumerically("<", 200<<10), "a stored status over 200 KiB")
			Expect(biggest.Error).To(BeNumerically("<", 200<<10), "a stored error over 200 KiB")

			s.converge(ctx)
		})
	})
})

// envOf is the value of name in env (KEY=value entries).
func envOf(env []string, name string) string {
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	Fail(name + " is not in the workers' environment")
	return ""
}

// watchTTL samples key's TTL every 20 ms until ctx ends or the spec does,
// and returns the longest seen.
func watchTTL(ctx context.Context, key string) func() time.Duration {
	var mu sync.Mutex
	var longest time.Duration
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	DeferCleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if ttl, err := w.rdb.PTTL(ctx, key).Result(); err == nil {
				mu.Lock()
				longest = max(longest, ttl)
				mu.Unlock()
			}
		}
	}()
	return func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return longest
	}
}

// answeredTwice lists the request ids the fake answered 200 more than once
// since its log was last reset.
func answeredTwice(f *fake.Server) []string {
	n := map[string]int{}
	for _, r := range f.Requests() {
		if r.Path == fake.APIPrefix+"/uploads/status" && r.StatusCode == http.StatusOK {
			for _, id := range r.RequestIDs {
				n[id]++
			}
		}
	}
	var out []string
	for id, k := range n {
		if k > 1 {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

func describeCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// replicaLog is the replicas' logs, read once.
type replicaLog struct {
	lines   []string
	longest int
}

func (s *scenario) replicaLogs() replicaLog {
	var out replicaLog
	for _, r := range s.workers {
		f, err := os.Open(r.logPath)
		Expect(err).NotTo(HaveOccurred())
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for sc.Scan() {
			line := sc.Text()
			out.longest = max(out.longest, len(line))
			out.lines = append(out.lines, line)
		}
		Expect(sc.Err()).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())
	}
	return out
}

func (l replicaLog) count(substr string) int {
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}
