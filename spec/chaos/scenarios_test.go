package chaos_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

// docs is the number of uploads each scenario seeds.
var docs = sizes(300, 3000)

// fullOnly registers a scenario in the full run only (make chaos); the short
// form in make test keeps the rest.
func fullOnly(text string, body func(ctx SpecContext)) {
	if full {
		It(text, body, NodeTimeout(30*time.Minute))
	}
}

func always(text string, body func(ctx SpecContext)) {
	It(text, body, NodeTimeout(sizes(6*time.Minute, 30*time.Minute)))
}

var _ = Describe("The worker under faults", func() {
	Context("when worker processes are SIGKILLed at random moments", func() {
		always("loses and duplicates nothing, and the replicas recover", func(ctx SpecContext) {
			s := newScenario(ctx, "sigkill workers", options{docs: docs, replicas: 3})
			// Slow answers keep batches in flight, so kills land mid-task.
			s.fake.SetFaults(fake.Faults{SlowRate: 0.5, SlowDelay: 800 * time.Millisecond})
			kills := sizes(3, 20)
			cycles := sizes(1, 4)
			s.fault("%d SIGKILLs of 3 replicas at random moments (restarted by their supervisor)", kills)
			for c := range cycles {
				n := kills / cycles
				if c == cycles-1 {
					n = kills - n*(cycles-1)
				}
				s.cycle(ctx, func(ctx context.Context) {
					s.inFlight(ctx)
					for range n {
						after(ctx, s.jitter(0, 1500*time.Millisecond))
						killRandom(s.workers, s.rng)
					}
				})
			}
			s.converge(ctx)
		})
	})

	Context("when Redis is restarted mid-cycle", func() {
		always("loses and duplicates nothing", func(ctx SpecContext) {
			s := newScenario(ctx, "redis restart", options{docs: docs, replicas: 2})
			s.fake.SetFaults(fake.Faults{SlowRate: 0.5, SlowDelay: 800 * time.Millisecond})
			restarts := sizes(1, 3)
			s.fault("Redis SIGKILLed and restarted %d times mid-cycle (AOF kept)", restarts)
			for range restarts {
				s.cycle(ctx, func(ctx context.Context) {
					s.inFlight(ctx)
					w.redis.kill()
					after(ctx, s.jitter(time.Second, 3*time.Second))
					w.redis.start()
				})
			}
			s.converge(ctx)
		})
	})

	Context("when Postgres is restarted mid-cycle", func() {
		always("loses and duplicates nothing", func(ctx SpecContext) {
			s := newScenario(ctx, "postgres restart", options{docs: docs, replicas: 2})
			s.fake.SetFaults(fake.Faults{SlowRate: 0.5, SlowDelay: 800 * time.Millisecond})
			restarts := sizes(1, 3)
			s.fault("Postgres stopped (immediate) and started %d times mid-cycle", restarts)
			for range restarts {
				s.cycle(ctx, func(ctx context.Context) {
					s.inFlight(ctx)
					w.pg.stop(ctx)
					after(ctx, s.jitter(time.Second, 3*time.Second))
					w.pg.start(ctx)
				})
			}
			s.converge(ctx)
		})
	})

	Context("when Lighthouse answers garbage", func() {
		always("loses and duplicates nothing", func(ctx SpecContext) {
			s := newScenario(ctx, "lighthouse hostile answers", options{docs: docs, replicas: 2})
			s.fault("30%% 5xx (api, gateway, framework, html, empty bodies), 10%% malformed JSON, 10%% truncated JSON, for %s", sizes("10s", "60s"))
			s.cycle(ctx, func(ctx context.Context) {
				s.fake.SetFaults(fake.Faults{
					ErrorRate:     0.3,
					ErrorShapes:   []string{fake.ShapeAPI, fake.ShapeGateway, fake.ShapeFramework, fake.ShapeHTML, fake.ShapeEmpty},
					StatusCodes:   []int{500, 502, 503, 504},
					MalformedRate: 0.1, TruncateRate: 0.1,
					SlowRate: 0.3, SlowDelay: 200 * time.Millisecond,
				})
				after(ctx, sizes(10*time.Second, 60*time.Second))
				s.fake.SetFaults(fake.Faults{})
			})
			s.converge(ctx)
		})
	})

	Context("when Lighthouse's status entries break the rules", func() {
		always("applies what is sound, keeps the rest pending, and completes them later", func(ctx SpecContext) {
			s := newScenario(ctx, "lighthouse bad entries", options{docs: docs, replicas: 2})
			s.fault("every answer: 3 entries for ids not asked, every entry twice, FAILED without error, SUCCESS without endTime (one cycle)")
			s.fake.SetFaults(fake.Faults{ExtraUnaskedIDs: 3, DuplicateEntries: true, FailedWithoutError: true, SuccessWithoutEndTime: true})
			s.cycle(ctx, func(ctx context.Context) {})
			// SUCCESS without endTime must not complete anything yet.
			var completed int64
			Expect(w.gdb.WithContext(ctx).Table("lighthouse526_document_uploads").Where("aasm_state = ?", models.StateCompleted).Count(&completed).Error).To(Succeed())
			Expect(completed).To(BeZero())
			s.converge(ctx)
		})
	})

	Context("when some rows cannot be polled", func() {
		always("polls every good upload in the first cycle, quarantines and lists every poison row, and loses nothing", func(ctx SpecContext) {
			poison := max(docs/100, len(poisonKinds))
			s := newScenario(ctx, "poison rows", options{docs: docs, replicas: 2, poison: poison})
			s.fault("%d poison rows (%.1f%%): request ids of letters and of 20 digits, NULL and unknown document types, ids Lighthouse refuses with 400",
				poison, 100*float64(poison)/float64(docs))
			// A fault-free cycle: it must ask about every due upload but the
			// poison ones (checkRequests), each good one answered once.
			s.cycle(ctx, nil)
			quarantined, err := quarantineReasons(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(quarantined).To(HaveLen(poison), "every poison row quarantined in the first cycle")
			s.converge(ctx)

			listed := s.listedQuarantined(ctx)
			for id, want := range s.expected {
				if want.quarantine != "" {
					Expect(listed).To(HaveKeyWithValue(id, want.quarantine), "worker uploads stuck lists upload %d", id)
				}
			}
			Expect(listed).To(HaveLen(poison))
		})
	})

	Context("when two cron cycles overlap", func() {
		always("skips the second while the first has batches in flight", func(ctx SpecContext) {
			s := newScenario(ctx, "overlapping cycles", options{docs: docs, replicas: 2, env: map[string]string{"WORKER_CONCURRENCY": "2"}})
			s.fault("every call slowed by 1.5s; the next tick enqueued while the first cycle runs")
			s.fake.SetFaults(fake.Faults{SlowRate: 1, SlowDelay: 1500 * time.Millisecond})
			first := time.Now().UTC().Truncate(time.Second)
			second := first.Add(time.Minute)
			s.cycles++
			s.runCycles(ctx, first, func(ctx context.Context) {
				// The second tick comes while the first still has batches in flight.
				Eventually(func(g Gomega) {
					var c models.PollingCycle
					g.Expect(w.gdb.WithContext(ctx).Take(&c, "id = ?", cronID(first)).Error).To(Succeed())
					g.Expect(c.BatchesEnqueued).To(BeNumerically(">", c.BatchesDone))
				}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
				s.enqueue(ctx, cronTask(s, second))
				// Keep the first cycle's batches slow until the second tick has
				// been handled: lifted earlier, they may all finish first, and the
				// second cycle would rightly run.
				Eventually(func(g Gomega) {
					var c models.PollingCycle
					g.Expect(w.gdb.WithContext(ctx).Take(&c, "id = ?", cronID(second)).Error).To(Succeed())
					g.Expect(c.FanOutDoneAt).NotTo(BeNil())
				}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
				s.fake.SetFaults(fake.Faults{})
			}, func() { s.enqueue(ctx, cronTask(s, first)) }, cronID(first), cronID(second))
			var c models.PollingCycle
			Expect(w.gdb.WithContext(ctx).Take(&c, "id = ?", cronID(second)).Error).To(Succeed())
			Expect(c.Skipped).To(BeTrue(), "the overlapping cycle ran")
			Expect(c.BatchesEnqueued).To(BeZero())
			s.converge(ctx)
		})
	})

	fullOnly("survives Redis unreachable for longer than the retries of a batch attempt", func(ctx SpecContext) {
		s := newScenario(ctx, "redis unreachable", options{docs: docs, replicas: 2})
		down := 90 * time.Second
		s.fault("Redis down for %s mid-cycle", down)
		s.fake.SetFaults(fake.Faults{SlowRate: 0.5, SlowDelay: 800 * time.Millisecond})
		s.cycle(ctx, func(ctx context.Context) {
			s.inFlight(ctx)
			w.redis.kill()
			after(ctx, down)
			w.redis.start()
		})
		s.converge(ctx)
	})

	fullOnly("survives a Postgres statement timeout during batches", func(ctx SpecContext) {
		s := newScenario(ctx, "postgres statement timeout", options{docs: docs, replicas: 2, env: map[string]string{"DB_STATEMENT_TIMEOUT": "1s"}})
		Expect(w.gdb.Exec(slowUpdatesSQL).Error).To(Succeed())
		DeferCleanup(func() { Expect(w.gdb.Exec(dropSlowUpdatesSQL).Error).To(Succeed()) })
		s.fault("half the batch writes sleep 2s past DB_STATEMENT_TIMEOUT=1s, for 30s")
		s.cycle(ctx, func(ctx context.Context) {
			Expect(w.gdb.Exec(`UPDATE chaos_flags SET slow = true`).Error).To(Succeed())
			after(ctx, 30*time.Second)
			Expect(w.gdb.Exec(`UPDATE chaos_flags SET slow = false`).Error).To(Succeed())
		})
		s.converge(ctx)
	})

	fullOnly("survives Lighthouse timeouts", func(ctx SpecContext) {
		s := newScenario(ctx, "lighthouse timeouts", options{docs: docs, replicas: 2})
		s.fault("30%% of calls answer after 5s (client timeout 2s), for 60s")
		s.cycle(ctx, func(ctx context.Context) {
			s.fake.SetFaults(fake.Faults{SlowRate: 0.3, SlowDelay: 5 * time.Second})
			after(ctx, 60*time.Second)
			s.fake.SetFaults(fake.Faults{})
		})
		s.converge(ctx)
	})

	fullOnly("survives a 429 storm", func(ctx SpecContext) {
		s := newScenario(ctx, "lighthouse 429 storm", options{docs: docs, replicas: 2})
		s.fault("every call answers 429 with RateLimit-Reset, for 45s")
		s.cycle(ctx, func(ctx context.Context) {
			s.fake.SetFaults(fake.Faults{RateLimitStorm: true})
			after(ctx, 45*time.Second)
			s.fake.SetFaults(fake.Faults{})
		})
		s.converge(ctx)
	})

	fullOnly("survives HTML error pages", func(ctx SpecContext) {
		s := newScenario(ctx, "lighthouse html errors", options{docs: docs, replicas: 2})
		s.fault("30%% of calls answer a proxy's HTML 502/503/504 page, for 60s")
		s.cycle(ctx, func(ctx context.Context) {
			s.fake.SetFaults(fake.Faults{ErrorRate: 0.3, ErrorShapes: []string{fake.ShapeHTML}, StatusCodes: []int{502, 503, 504}})
			after(ctx, 60*time.Second)
			s.fake.SetFaults(fake.Faults{})
		})
		s.converge(ctx)
	})

	fullOnly("survives a token endpoint that fails for two minutes", func(ctx SpecContext) {
		s := newScenario(ctx, "token endpoint outage", options{docs: docs, replicas: 2})
		outage := 2 * time.Minute
		s.fault("access tokens revoked, then the token endpoint answers 503 for %s", outage)
		s.cycle(ctx, func(ctx context.Context) {
			s.fake.SetFaults(fake.Faults{Next: tokenOutage(10000)})
			s.fake.ExpireTokens()
			after(ctx, outage)
			s.fake.SetFaults(fake.Faults{})
		})
		s.converge(ctx)
	})
})

// tokenOutage is n one-shot 503 answers of the token endpoint.
func tokenOutage(n int) []fake.Fault {
	fs := make([]fake.Fault, n)
	for i := range fs {
		fs[i] = fake.Fault{Endpoint: "token", Status: 503, Shape: fake.ShapeHTML}
	}
	return fs
}

// The statement-timeout fault: a statement trigger on the uploads table that
// sleeps past the workers' statement timeout in half the writes while the flag
// is on. The suite's own connection has a one-minute timeout.
const slowUpdatesSQL = `
CREATE TABLE IF NOT EXISTS chaos_flags (slow boolean NOT NULL);
INSERT INTO chaos_flags SELECT false WHERE NOT EXISTS (SELECT 1 FROM chaos_flags);
CREATE OR REPLACE FUNCTION chaos_slow_updates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT slow FROM chaos_flags LIMIT 1) AND random() < 0.5 THEN
    PERFORM pg_sleep(2);
  END IF;
  RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS chaos_slow_updates ON lighthouse526_document_uploads;
CREATE TRIGGER chaos_slow_updates BEFORE UPDATE ON lighthouse526_document_uploads
  FOR EACH STATEMENT EXECUTE FUNCTION chaos_slow_updates();`

const dropSlowUpdatesSQL = `
DROP TRIGGER IF EXISTS chaos_slow_updates ON lighthouse526_document_uploads;
DROP FUNCTION IF EXISTS chaos_slow_updates();
DROP TABLE IF EXISTS chaos_flags;`
