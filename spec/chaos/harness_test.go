package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

// scenario is one fault scenario: a fake Lighthouse with scripted documents,
// seeded uploads, supervised worker replicas, and what was observed.
type scenario struct {
	name      string
	w         *world
	fake      *fake.Server
	fakeURL   string
	queue     string
	notify    string
	workers   []*replica
	client    *asynq.Client
	inspector *asynq.Inspector
	rng       *rand.Rand
	expected  map[int64]expectation
	poisoned  map[string]bool // request ids of the uploads that must end quarantined
	logDir    string
	workerEnv []string

	faults     []string
	cycles     int
	duplicated int // request ids put in two different batches of one cycle
	missed     int // due request ids a fault cycle never asked Lighthouse about
	liftedAt   time.Time
}

// options of a scenario.
type options struct {
	docs     int
	replicas int
	env      map[string]string // extra or overriding worker settings
	// poison makes that many of the docs uploads rows that cannot be
	// polled (see seedPoison), which must end quarantined.
	poison int
}

// newScenario truncates the tables, starts a fake Lighthouse, seeds the
// uploads and starts the replicas.
func newScenario(ctx context.Context, name string, o options) *scenario {
	Expect(truncate()).To(Succeed())
	slug := strings.NewReplacer(" ", "_", "-", "_").Replace(name)
	s := &scenario{
		name: name, w: w,
		queue:  "chaos_" + slug,
		notify: "chaos_notify_" + slug,
		rng:    rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)),
	}
	s.fake = fake.New(fake.Options{PublicKey: &w.key.PublicKey, ClientID: clientID, AudClaimURL: audClaim, Seed: 42, MaxRequestID: maxRequestID})
	var err error
	s.fakeURL, err = s.fake.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.fake.Close)
	seed(ctx, s, o.docs, o.poison)

	s.client = asynq.NewClientFromRedisClient(w.rdb)
	s.inspector = asynq.NewInspectorFromRedisClient(w.rdb)
	s.logDir = filepath.Join(w.tmp, slug)
	Expect(os.MkdirAll(s.logDir, 0o700)).To(Succeed())
	s.workerEnv = s.env(slug, o.env)
	s.workers = startReplicas(max(o.replicas, 1), s.workerEnv, s.logDir)
	DeferCleanup(func() {
		stopAll(s.workers)
		if CurrentSpecReport().Failed() {
			s.dumpLogs()
		}
	})
	return s
}

// truncate empties the tables between scenarios.
func truncate() error { return dbtest.Truncate(w.gdb) }

// env is the replicas' environment. POLL_WINDOW 1s makes every pending
// upload due again at each cycle, so cycles can follow one another quickly.
func (s *scenario) env(slug string, extra map[string]string) []string {
	vars := map[string]string{
		"PATH":                             os.Getenv("PATH"),
		"DATABASE_URL":                     w.dbURL,
		"DB_MAX_OPEN_CONNS":                "8",
		"REDIS_URL":                        w.redis.URL(),
		"REDIS_KEY_PREFIX":                 "chaos:" + slug + ":",
		"LIGHTHOUSE_HOST":                  s.fakeURL,
		"LIGHTHOUSE_CLIENT_ID":             clientID,
		"LIGHTHOUSE_RSA_KEY":               w.keyFile,
		"LIGHTHOUSE_AUD_CLAIM_URL":         audClaim,
		"LIGHTHOUSE_TIMEOUT":               "2s",
		"LIGHTHOUSE_RATE_LIMIT_PER_MINUTE": "100000",
		"LIGHTHOUSE_RATE_BUDGET":           "100000",
		"LIGHTHOUSE_MAX_RATE_LIMIT_WAIT":   "1s",
		"POLL_WINDOW":                      "1s",
		"POLL_WINDOW_GRACE":                "0s",
		"POLL_BATCH_SIZE":                  sizes("50", "100"),
		"QUEUE_NAME":                       s.queue,
		"NOTIFICATION_QUEUE":               s.notify,
		"NOTIFICATION_TARGET":              "asynq", // verify counts the follow-ups in asynq's queue
		"WORKER_CONCURRENCY":               "4",
		"SHUTDOWN_TIMEOUT":                 "5s",
		"FAILURE_NOTIFICATIONS_ENABLED":    "true",
		"LOG_LEVEL":                        "info",
	}
	for k, v := range extra {
		vars[k] = v
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// inFlight waits until the current cycle has batches in flight, so that a
// fault injected next lands mid-cycle.
func (s *scenario) inFlight(ctx context.Context) {
	Eventually(func(g Gomega) {
		var c models.PollingCycle
		g.Expect(w.gdb.WithContext(ctx).Order("created_at DESC").Take(&c).Error).To(Succeed())
		g.Expect(c.BatchesEnqueued).To(BeNumerically(">", c.BatchesDone))
	}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(20 * time.Millisecond).Should(Succeed())
}

// fault records a fault injected, for the table.
func (s *scenario) fault(format string, a ...any) {
	s.faults = append(s.faults, fmt.Sprintf(format, a...))
}

// cycle runs one ad hoc polling cycle while inject runs (it returns when the
// fault is lifted), waits until the cycle's batches are all done and the
// queue is empty, and checks the fake's request log of the cycle.
func (s *scenario) cycle(ctx context.Context, inject func(ctx context.Context)) {
	// Uploads polled in the previous second are not due (POLL_WINDOW 1s).
	after(ctx, 1100*time.Millisecond)
	s.cycles++
	id := fmt.Sprintf("chaos-%s-%d", strings.ReplaceAll(s.name, " ", "-"), s.cycles)
	at := time.Now().UTC()
	task, err := tasks.NewAdHocPollingTask(s.queue, id, at)
	Expect(err).NotTo(HaveOccurred())
	s.runCycles(ctx, at, inject, func() { s.enqueue(ctx, task) }, id)
}

func (s *scenario) enqueue(ctx context.Context, task *asynq.Task) {
	Eventually(func() error {
		_, err := s.client.EnqueueContext(ctx, task)
		return err
	}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
}

// runCycles starts the cycle(s), runs inject beside them, waits for every
// named cycle to be done and the queue to be empty, then checks the log.
func (s *scenario) runCycles(ctx context.Context, at time.Time, inject func(ctx context.Context), start func(), ids ...string) {
	due := s.dueRequestIDs(ctx, at)
	s.fake.ResetRequests()
	start()
	var wg sync.WaitGroup
	if inject != nil {
		wg.Add(1)
		go func() {
			defer GinkgoRecover()
			defer wg.Done()
			inject(ctx)
			s.liftedAt = time.Now()
		}()
	}
	s.waitDone(ctx, ids...)
	wg.Wait()
	s.waitDone(ctx, ids...)
	s.checkRequests(due, inject != nil)
}

// waitDone waits until each cycle fanned out, all its batches are done, and
// nothing is left in the queue (pending, active, scheduled or retrying).
func (s *scenario) waitDone(ctx context.Context, ids ...string) {
	Eventually(func(g Gomega) {
		for _, id := range ids {
			var c models.PollingCycle
			g.Expect(w.gdb.WithContext(ctx).Take(&c, "id = ?", id).Error).To(Succeed())
			g.Expect(c.FanOutDoneAt).NotTo(BeNil(), "cycle %s has not fanned out", id)
			g.Expect(c.BatchesDone).To(BeNumerically(">=", c.BatchesEnqueued), "cycle %s has batches in flight", id)
		}
		q, err := s.inspector.GetQueueInfo(s.queue)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(q.Pending+q.Active+q.Scheduled+q.Retry+q.Aggregating).To(BeZero(), "queue %s not empty: %+v", s.queue, q)
	}).WithContext(ctx).WithTimeout(sizes(5*time.Minute, 15*time.Minute)).WithPolling(250 * time.Millisecond).Should(Succeed())
}

// dueRequestIDs are the request ids of the uploads due for a cycle at at.
func (s *scenario) dueRequestIDs(ctx context.Context, at time.Time) map[string]bool {
	var ids []string
	Eventually(func() error {
		return w.gdb.WithContext(ctx).Table("lighthouse526_document_uploads").
			Where("aasm_state = ? AND (status_last_polled_at IS NULL OR status_last_polled_at < ?)", models.StatePending, at.Add(-time.Second)).
			Pluck("lighthouse_document_request_id", &ids).Error
	}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !s.poisoned[id] { // never asked: quarantined before any call
			out[id] = true
		}
	}
	return out
}

// checkRequests reads the fake's log of the cycle: a request id answered in
// two different batches was polled twice in one cycle (a retried batch asks
// the same ids again, which is not that; nor is a batch refused with 400 and
// asked again in parts, since a refused call polled nothing); a due id never
// asked was missed.
func (s *scenario) checkRequests(due map[string]bool, faulty bool) {
	batchesOf := map[string]map[string]bool{}
	asked := map[string]bool{}
	for _, r := range s.fake.Requests() {
		if r.Path != fake.APIPrefix+"/uploads/status" {
			continue
		}
		for _, id := range r.RequestIDs {
			asked[id] = true
		}
		if r.StatusCode != http.StatusOK && r.StatusCode != http.StatusNotFound {
			continue
		}
		ids := append([]string(nil), r.RequestIDs...)
		sort.Strings(ids)
		key := strings.Join(ids, ",")
		for _, id := range ids {
			if batchesOf[id] == nil {
				batchesOf[id] = map[string]bool{}
			}
			batchesOf[id][key] = true
		}
	}
	for id, batches := range batchesOf {
		if len(batches) > 1 {
			s.duplicated++
			GinkgoWriter.Printf("request id %s was put in %d different batches of cycle %d\n", id, len(batches), s.cycles)
		}
	}
	missed := 0
	for id := range due {
		if !asked[id] {
			missed++
		}
	}
	if faulty {
		s.missed += missed
	} else {
		Expect(missed).To(BeZero(), "a fault-free cycle left due uploads unpolled")
	}
}

// verdict is the comparison of the database and the notification queue with
// the expectations.
type verdict struct {
	correct, wrong  int
	lostNotes       int
	duplicatedNotes int
	unsent          int
}

func (v verdict) ok() bool {
	return v.wrong == 0 && v.lostNotes == 0 && v.duplicatedNotes == 0 && v.unsent == 0
}

// verify compares every upload with its expectation, and the notification
// queue and the outbox with the follow-ups owed.
func (s *scenario) verify(ctx context.Context) verdict {
	var v verdict
	var rows []struct {
		ID                          int64
		AasmState                   string
		LighthouseProcessingEndedAt *time.Time
		ErrorMessage                models.JSON
		LastStatusResponse          models.JSON
		StatusLastPolledAt          *time.Time
	}
	if err := w.gdb.WithContext(ctx).Table("lighthouse526_document_uploads").Find(&rows).Error; err != nil {
		return verdict{wrong: len(s.expected)}
	}
	quarantined, err := quarantineReasons(ctx)
	if err != nil {
		return verdict{wrong: len(s.expected)}
	}
	for _, r := range rows {
		want := s.expected[r.ID]
		good := r.AasmState == want.state && r.StatusLastPolledAt != nil && len(r.LastStatusResponse) > 0 &&
			quarantined[r.ID] == ""
		switch {
		case want.quarantine != "":
			// Left out of every call: pending, never polled, quarantined.
			good = r.AasmState == models.StatePending && r.StatusLastPolledAt == nil && quarantined[r.ID] == want.quarantine
		case want.state == models.StateCompleted:
			good = good && r.LighthouseProcessingEndedAt != nil
		case want.state == models.StateFailed:
			good = good && r.LighthouseProcessingEndedAt != nil && len(r.ErrorMessage) > 0 && string(r.ErrorMessage) != "null"
		}
		if good {
			v.correct++
		} else {
			v.wrong++
		}
	}
	v.wrong += len(s.expected) - len(rows)

	owed := map[string]string{} // task id -> type
	for id, e := range s.expected {
		if e.notification != "" {
			owed[tasks.NotificationTaskID(id)] = e.notification
		}
	}
	seen := map[string]int{}
	payloads := map[string]int{}
	for page := 1; ; page++ {
		infos, err := s.inspector.ListPendingTasks(s.notify, asynq.PageSize(500), asynq.Page(page))
		if err != nil {
			v.lostNotes = len(owed)
			return v
		}
		for _, t := range infos {
			seen[t.ID]++
			payloads[t.Type+string(t.Payload)]++
			if owed[t.ID] != t.Type {
				v.duplicatedNotes++ // a follow-up nobody is owed
			}
		}
		if len(infos) < 500 {
			break
		}
	}
	for id := range owed {
		if seen[id] == 0 {
			v.lostNotes++
		}
	}
	for _, n := range payloads {
		v.duplicatedNotes += n - 1
	}
	var outbox []models.OutboxEntry
	if err := w.gdb.WithContext(ctx).Find(&outbox).Error; err != nil {
		v.unsent = len(owed)
		return v
	}
	for _, e := range outbox {
		if e.EnqueuedAt == nil {
			v.unsent++
		}
	}
	if len(outbox) > len(owed) {
		v.duplicatedNotes += len(outbox) - len(owed)
	}
	return v
}

// converge runs fault-free cycles until every upload and follow-up is as
// expected (at most three cycles, and the relay's timer for the outbox),
// then records the scenario's row.
func (s *scenario) converge(ctx context.Context) {
	s.fake.SetFaults(fake.Faults{})
	if s.liftedAt.IsZero() {
		s.liftedAt = time.Now()
	}
	var v verdict
	for range 3 {
		s.cycle(ctx, nil)
		if v = s.verify(ctx); v.wrong == 0 {
			break
		}
	}
	// Follow-ups written while Redis was away go out on the relay's timer.
	Eventually(func() bool { v = s.verify(ctx); return v.ok() }).
		WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(BeTrue())
	recovered := time.Since(s.liftedAt)
	restarts := 0
	for _, r := range s.workers {
		restarts += r.restarts()
	}
	x := row{
		Scenario: s.name, Documents: len(s.expected), Faults: strings.Join(s.faults, "; "),
		Correct: v.correct, Lost: v.wrong + v.lostNotes, Duplicated: s.duplicated + v.duplicatedNotes,
		Missed: s.missed, Cycles: s.cycles, Restarts: restarts, Recover: recovered.Seconds(),
	}
	addRow(x)
	Expect(v.wrong).To(BeZero(), "uploads not in their expected final state")
	Expect(v.lostNotes).To(BeZero(), "failure follow-ups lost")
	Expect(v.duplicatedNotes).To(BeZero(), "failure follow-ups duplicated")
	Expect(s.duplicated).To(BeZero(), "request ids polled in two batches of one cycle")
}

// quarantineReasons is every quarantined upload's reason, by upload id.
func quarantineReasons(ctx context.Context) (map[int64]string, error) {
	var states []models.UploadPollState
	if err := w.gdb.WithContext(ctx).Where("quarantined_at IS NOT NULL").Find(&states).Error; err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(states))
	for _, st := range states {
		out[st.UploadID] = *st.QuarantineReason
	}
	return out, nil
}

// listedQuarantined runs `worker uploads stuck --json`, as an operator
// would, and returns the quarantine reason of each upload it lists.
func (s *scenario) listedQuarantined(ctx context.Context) map[int64]string {
	cmd := exec.CommandContext(ctx, workerBin, "uploads", "stuck", "--json", "--limit", "100000")
	cmd.Env = s.workerEnv
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "worker uploads stuck")
	var listed []struct {
		ID               int64   `json:"id"`
		QuarantineReason *string `json:"quarantine_reason"`
	}
	Expect(json.Unmarshal(out, &listed)).To(Succeed())
	reasons := map[int64]string{}
	for _, l := range listed {
		if l.QuarantineReason != nil {
			reasons[l.ID] = *l.QuarantineReason
		}
	}
	return reasons
}

// dumpLogs prints the tail of each replica's log after a failure.
func (s *scenario) dumpLogs() {
	for _, r := range s.workers {
		b, _ := os.ReadFile(r.logPath)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		GinkgoWriter.Printf("--- %s (last %d lines)\n%s\n", r.name, min(len(lines), 40), strings.Join(lines[max(len(lines)-40, 0):], "\n"))
	}
	b, _ := json.Marshal(s.faults)
	GinkgoWriter.Printf("faults: %s\n", b)
}

// after waits d or until ctx ends (inject functions pace themselves with it).
func after(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// jitter is a random duration in [lo, hi).
func (s *scenario) jitter(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)))
}

func cronID(tick time.Time) string { return polling.CronCycleID(tick) }

func cronTask(s *scenario, tick time.Time) *asynq.Task {
	t, err := tasks.NewPollingTask(s.queue, tick)
	Expect(err).NotTo(HaveOccurred())
	return t
}
