package spec_test

import (
	"context"
	"slices"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// Three `worker run` replicas under POLL_STRATEGY=adaptive, the ladder scaled
// to seconds and a cycle every second, against a fake Lighthouse whose rate
// limit is the worker's budget: the fake's log of when it answered each
// request id is checked against the product's own policy (polling.Schedule).
var _ = Describe("Adaptive polling by three replicas", func() {
	const ladder = "0:2s,10s:4s,30s:8s"
	const (
		// A poll comes at most a cron tick, and the processing of a cycle
		// task and a batch task (each picked up within asynq's one-second
		// check of an empty queue, on a shared 2-core CI machine), after
		// the time the schedule gave.
		tick       = time.Second
		processing = 3 * time.Second
	)
	var schedule polling.Schedule

	BeforeEach(func() {
		l, err := config.ParseLadder(ladder)
		Expect(err).NotTo(HaveOccurred())
		schedule = polling.Schedule{Ladder: l, Floor: 24 * time.Hour} // POLL_FLOOR's default
	})

	// start runs three replicas, spending budget calls a minute of the
	// fake's, whose limit is the same budget.
	start := func(budget, batchSize int) (*world, []*workerProc) {
		w := newWorld(func(o *fake.Options) { o.RateLimitPerMinute = budget })
		w.env["POLL_STRATEGY"] = "adaptive"
		w.env["POLL_LADDER"] = ladder
		w.env["POLL_CRON"] = "@every 1s"
		w.env["POLL_CRON_ALLOW_SUBMINUTE"] = "true"
		w.env["LIGHTHOUSE_RATE_BUDGET"] = strconv.Itoa(budget)
		w.env["LIGHTHOUSE_MAX_RATE_LIMIT_WAIT"] = "10s"
		w.env["POLL_BATCH_SIZE"] = strconv.Itoa(batchSize)
		var replicas []*workerProc
		for range 3 {
			replicas = append(replicas, w.startWorker())
		}
		return w, replicas
	}

	// withinBudget checks the fake's log: no call answered 429, and no
	// sliding minute holds more than budget status calls.
	withinBudget := func(g Gomega, w *world, budget int) {
		var at []time.Time
		for _, r := range w.fake.Requests() {
			g.Expect(r.StatusCode).NotTo(Equal(429), "the fake refused a call at %s", r.At.Format(time.RFC3339Nano))
			if r.Path == fake.APIPrefix+"/uploads/status" {
				at = append(at, r.At)
			}
		}
		slices.SortFunc(at, time.Time.Compare)
		for i := range at {
			j, _ := slices.BinarySearchFunc(at, at[i].Add(time.Minute), time.Time.Compare)
			g.Expect(j-i).To(BeNumerically("<=", budget), "status calls in the minute from %s", at[i].Format(time.RFC3339Nano))
		}
	}

	// followsPolicy checks one upload's polls against the schedule. None of
	// these documents' statuses moves before it ends, so its age counts from
	// its creation: each poll comes no earlier than the next poll time the
	// schedule gave after the one before, and no later than that interval
	// plus a tick and the processing.
	followsPolicy := func(id string, created time.Time, polls []time.Time) {
		GinkgoHelper()
		for i := 1; i < len(polls); i++ {
			prev, cur := polls[i-1], polls[i]
			// The write that scheduled it came a little after the poll.
			Expect(cur).To(BeTemporally(">=", schedule.Next(prev, created)),
				"request id %s polled at %s, before its next poll time after %s", id, cur.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano))
			every := schedule.Interval(prev.Add(processing).Sub(created))
			Expect(cur.Sub(prev)).To(BeNumerically("<=", every+tick+processing),
				"request id %s polled %s after %s, aged %s (every %s)", id, cur.Sub(prev), prev.Format(time.RFC3339Nano), prev.Sub(created), every)
		}
	}

	stateOf := func(ctx context.Context, requestID string) string {
		var u models.Lighthouse526DocumentUpload
		if err := gdb.WithContext(ctx).Take(&u, "lighthouse_document_request_id = ?", requestID).Error; err != nil {
			return err.Error()
		}
		return u.AasmState
	}

	It("polls each upload when the policy says, finishes those Lighthouse finished, within the budget", func(ctx SpecContext) {
		const budget = 60 // a cycle a second may hand on one call: the budget never binds here
		w, _ := start(budget, 100)

		t0 := time.Now()
		finished := map[string]string{
			w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess, Started: t0, Ended: t0.Add(6 * time.Second)}):  models.StateCompleted,
			w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, Started: t0, Ended: t0.Add(13 * time.Second)}):  models.StateFailed,
			w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess, Started: t0, Ended: t0.Add(20 * time.Second)}): models.StateCompleted,
		}
		ups := []upload{}
		for id := range finished {
			ups = append(ups, upload{requestID: id})
		}
		never := []string{}
		for range 3 {
			never = append(never, w.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress}))
			ups = append(ups, upload{requestID: never[len(never)-1]})
		}
		longAgo := t0.Add(-time.Hour) // polled every 8 s from the first poll
		old := w.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress})
		ups = append(ups, upload{requestID: old, createdAt: &longAgo})
		seedUploads(ctx, ups...)
		created := map[string]time.Time{}
		var rows []models.Lighthouse526DocumentUpload
		Expect(gdb.WithContext(ctx).Find(&rows).Error).To(Succeed())
		for _, r := range rows {
			created[r.LighthouseDocumentRequestID] = r.CreatedAt
		}

		By("waiting for the finished documents' states, and the others polled through two rungs of the ladder")
		Eventually(func(g Gomega) {
			for id, want := range finished {
				g.Expect(stateOf(ctx, id)).To(Equal(want), "request id %s", id)
			}
			polls := w.fake.PollTimes()
			for _, id := range never {
				g.Expect(len(polls[id])).To(BeNumerically(">=", 8), "request id %s", id)
			}
			g.Expect(len(polls[old])).To(BeNumerically(">=", 3))
		}).WithTimeout(time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())

		By("checking every upload's polls against the policy")
		polls := w.fake.PollTimes()
		for id, at := range created {
			Expect(polls[id]).NotTo(BeEmpty(), "request id %s never polled", id)
			followsPolicy(id, at, polls[id])
		}
		for id := range finished {
			doc, _ := w.fake.Document(id)
			after := 0
			for _, p := range polls[id] {
				if !p.Before(doc.Ended) {
					after++
				}
			}
			Expect(after).To(BeNumerically("<=", 1), "request id %s polled again after it ended", id)
		}

		By("checking the budget held")
		withinBudget(Default, w, budget)
	})

	It("holds the budget across the replicas when more is due than it allows", func(ctx SpecContext) {
		// A cycle a second hands on a call (the least it may), 60 a minute:
		// five times the budget, which only the shared limiter holds.
		const budget = 12
		w, replicas := start(budget, 2)
		ups := []upload{}
		for i := range 10 {
			createdAt := time.Now().Add(-time.Hour + time.Duration(i)*time.Second)
			ups = append(ups, upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress}), createdAt: &createdAt})
		}
		seedUploads(ctx, ups...)

		By("seeing a cycle leave uploads due for a later one")
		Eventually(func() float64 {
			var most float64
			for _, r := range replicas {
				n, _ := r.metric("form526_document_upload_cycle_documents_deferred", nil)
				most = max(most, n)
			}
			return most
		}).WithTimeout(20 * time.Second).WithPolling(200 * time.Millisecond).Should(BeNumerically(">", 0))

		By("polling for 25 seconds: never a 429, never more than the budget in a minute")
		Consistently(func(g Gomega) { withinBudget(g, w, budget) }).
			WithTimeout(25 * time.Second).WithPolling(500 * time.Millisecond).Should(Succeed())
		Expect(len(w.statusCalls(200))).To(BeNumerically(">=", 3), "the budget was spent")
	})
})
