package spec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/redis/go-redis/v9"
)

// The follow-ups' metric: pushes, not counting a push found already made.
const notificationsPushed = "form526_document_upload_notifications_enqueued_total"

var _ = Describe("Failure emails through VA.gov's Sidekiq", func() {
	var (
		ctx context.Context
		w   *world
	)

	BeforeEach(func() {
		ctx = context.Background()
		w = newWorld()
	})

	// runCycle polls every due upload once through the running worker.
	runCycle := func() {
		GinkgoHelper()
		Eventually(cycleDone(ctx, w.enqueueAdHocCycle(ctx))).WithTimeout(time.Minute).Should(BeTrue())
	}

	// performedOnce waits until Sidekiq performed exactly want, and checks
	// that nothing more comes, none failed, and each upload's job is the one
	// its push marker names.
	performedOnce := func(s *sidekiqSide, ids []int64, want []sidekiqJob) {
		GinkgoHelper()
		Eventually(s.performed(ctx)).WithTimeout(time.Minute).Should(ConsistOf(want))
		Consistently(s.performed(ctx)).WithTimeout(4 * time.Second).Should(HaveLen(len(want)))
		_, jids := s.performedJobs(ctx)
		for _, id := range ids {
			Expect(jids).To(ContainElement(s.pushedJID(ctx, id)), "upload %d's pushed job ran", id)
		}
		Expect(s.waiting(ctx)).To(BeEmpty())
		for _, set := range []string{"retry", "dead"} {
			entries, err := s.rdb.ZRange(ctx, s.key(set), 0, -1).Result()
			Expect(err).NotTo(HaveOccurred())
			for _, e := range entries {
				Expect(e).NotTo(ContainSubstring(`"queue":"`+s.queue+`"`), "a job failed in Sidekiq: %s", e)
			}
		}
	}

	DescribeTable("performs every failed Veteran Upload and Form 0781(a) exactly once, with the original's args",
		func(namespace string, ownDB bool) {
			s := newSidekiqSide(w, namespace, ownDB)
			ids, want := s.failedUploads(ctx, 3)
			s.start()
			worker := w.startWorker("--no-scheduler")

			runCycle()
			Eventually(outbox(ctx)).WithTimeout(time.Minute).Should(Equal(outboxCounts{Sent: int64(len(ids))}))
			performedOnce(s, ids, want)
			Expect(worker.metric(notificationsPushed, nil)).To(Equal(float64(len(ids))))
		},
		Entry("on the worker's own Redis, without a namespace", "", false),
		Entry("on another Redis database (SIDEKIQ_REDIS_URL), under a namespace (SIDEKIQ_NAMESPACE)", "vets-api", true),
	)

	It("pushes each job once though the relay is SIGKILLed between pushing and recording", func() {
		s := newSidekiqSide(w, "", false)
		ids, want := s.failedUploads(ctx, 2)

		// The relay's write that marks rows sent waits on an advisory lock
		// the spec holds, so the worker is killed right after its pushes.
		Expect(gdb.Exec(`CREATE FUNCTION spec_hold_outbox_update() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END $$;
			CREATE TRIGGER spec_hold_outbox_update BEFORE UPDATE ON lighthouse526_notification_outbox
			FOR EACH ROW EXECUTE FUNCTION spec_hold_outbox_update()`).Error).To(Succeed())
		DeferCleanup(func() {
			Expect(gdb.Exec(`DROP TRIGGER IF EXISTS spec_hold_outbox_update ON lighthouse526_notification_outbox;
				DROP FUNCTION IF EXISTS spec_hold_outbox_update()`).Error).To(Succeed())
		})
		sqlDB, err := gdb.DB()
		Expect(err).NotTo(HaveOccurred())
		hold, err := sqlDB.Conn(ctx)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(hold.Close)
		_, err = hold.ExecContext(ctx, `SELECT pg_advisory_lock(4242)`)
		Expect(err).NotTo(HaveOccurred())
		waitingOnHold := func() (n int64) {
			Expect(gdb.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
				AND wait_event_type = 'Lock' AND wait_event = 'advisory'`).Scan(&n).Error).To(Succeed())
			return n
		}

		first := w.startWorker("--no-scheduler")
		runCycle()
		Eventually(waitingOnHold).WithTimeout(time.Minute).Should(BeNumerically(">=", 1), "the relay waits to record its pushes")
		Expect(s.waiting(ctx)).To(HaveLen(len(want)), "every job was pushed")
		Expect(outbox(ctx)()).To(Equal(outboxCounts{Unsent: int64(len(ids))}), "none recorded")

		first.signal(syscall.SIGKILL)
		Eventually(first.session).WithTimeout(10 * time.Second).Should(gexec.Exit())
		_, err = hold.ExecContext(ctx, `SELECT pg_advisory_unlock(4242)`)
		Expect(err).NotTo(HaveOccurred())
		// The killed worker's transaction rolls back: nothing recorded.
		Eventually(waitingOnHold).WithTimeout(30 * time.Second).Should(BeZero())
		Eventually(outbox(ctx)).WithTimeout(30 * time.Second).Should(Equal(outboxCounts{Unsent: int64(len(ids))}))
		Expect(gdb.Exec(`DROP TRIGGER spec_hold_outbox_update ON lighthouse526_notification_outbox`).Error).To(Succeed())

		// A new worker relays the rows again: every push finds its marker.
		second := w.startWorker("--no-scheduler")
		Eventually(outbox(ctx)).WithTimeout(time.Minute).Should(Equal(outboxCounts{Sent: int64(len(ids))}))
		Expect(s.waiting(ctx)).To(HaveLen(len(want)), "nothing pushed twice")
		Expect(second.metric(notificationsPushed, nil)).To(BeZero())

		s.start()
		performedOnce(s, ids, want)
	})

	It("pushes jobs as Sidekiq's own client writes them, kept while Sidekiq is down and performed once it starts", func() {
		s := newSidekiqSide(w, "", false)
		ids, want := s.failedUploads(ctx, 1)
		worker := w.startWorker("--no-scheduler")
		runCycle()
		Eventually(outbox(ctx)).WithTimeout(time.Minute).Should(Equal(outboxCounts{Sent: int64(len(ids))}))
		worker.session.Terminate()
		Eventually(worker.session).WithTimeout(30 * time.Second).Should(gexec.Exit(0))

		// The reference: the same job pushed by Sidekiq's Ruby client.
		s.ruby("push.rb", s.queue, "999999")
		want = append(want, sidekiqJob{"EVSS::DisabilityCompensationForm::Form0781DocumentUploadFailureEmail", "[999999]"})
		raw := s.waiting(ctx)
		Expect(raw).To(HaveLen(len(want)))
		ruby := raw[len(raw)-1]
		for _, job := range raw[:len(raw)-1] {
			Expect(memberShapes(job)).To(Equal(memberShapes(ruby)), "ours: %s\nRuby's: %s", job, ruby)
			Expect(job).To(MatchRegexp(`"created_at":\d+\.\d+,"enqueued_at":\d+\.\d+}$`))
		}

		// What Sidekiq's API makes of them.
		out := bytes.Split(bytes.TrimSpace(s.ruby("queue.rb", s.queue)), []byte("\n"))
		Expect(out).To(HaveLen(len(want) + 1))
		now := float64(time.Now().UnixMicro()) / 1e6
		for i, line := range out[:len(want)] {
			var job map[string]any
			Expect(json.Unmarshal(line, &job)).To(Succeed())
			Expect(job).To(HaveKeyWithValue("raw", raw[i]))
			Expect(job).To(HaveKeyWithValue("retry", 16.0))
			Expect(job).To(HaveKeyWithValue("jid", MatchRegexp(`^[0-9a-f]{24}$`)))
			Expect(job).To(HaveKeyWithValue("created_at_is_float", true))
			Expect(job).To(HaveKeyWithValue("enqueued_at_is_float", true))
			Expect(job["enqueued_at"]).To(BeNumerically("~", now, 600), "read as seconds since the epoch")
			Expect(job["created_at"]).To(BeNumerically("<=", job["enqueued_at"]))
		}
		var latency struct{ Latency float64 }
		Expect(json.Unmarshal(out[len(want)], &latency)).To(Succeed())
		Expect(latency.Latency).To(And(BeNumerically(">=", 0), BeNumerically("<", 600)))

		s.start()
		performedOnce(s, ids, want)
	})

	It("leaves asynq's keys and Sidekiq's keys on one Redis to each other", func() {
		s := newSidekiqSide(w, "", false)
		ids, want := s.failedUploads(ctx, 1)

		// Another asynq application's queue and another Sidekiq queue on the
		// same database, neither served here.
		otherAsynq := w.queue + "_other"
		DeferCleanup(func(ctx context.Context) {
			keys, err := rdb.Keys(ctx, "asynq:{"+otherAsynq+"}:*").Result()
			Expect(err).NotTo(HaveOccurred())
			if len(keys) > 0 {
				Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
			}
			Expect(rdb.SRem(ctx, "asynq:queues", otherAsynq).Err()).To(Succeed())
		})
		_, err := w.client.EnqueueContext(ctx, asynq.NewTask("other:email", []byte(`{"to":"someone"}`)), asynq.Queue(otherAsynq))
		Expect(err).NotTo(HaveOccurred())
		_, err = w.client.EnqueueContext(ctx, asynq.NewTask("other:report", []byte(`{}`)), asynq.Queue(otherAsynq), asynq.ProcessIn(time.Hour))
		Expect(err).NotTo(HaveOccurred())
		s.ruby("push.rb", s.queue+"_other", "424242")
		foreign, err := rdb.Keys(ctx, "asynq:{"+otherAsynq+"}:*").Result()
		Expect(err).NotTo(HaveOccurred())
		foreign = append(foreign, "queue:"+s.queue+"_other")
		before := dumps(ctx, foreign)
		Expect(before).To(HaveLen(len(foreign)))

		// Sidekiq and the worker at work side by side.
		s.start()
		w.startWorker("--no-scheduler")
		runCycle()
		performedOnce(s, ids, want)

		Expect(dumps(ctx, foreign)).To(Equal(before))
		Expect(rdb.SMembers(ctx, "asynq:queues").Val()).To(ContainElements(w.queue, otherAsynq))
		Expect(rdb.SMembers(ctx, "queues").Val()).To(ContainElements(s.queue, s.queue+"_other"))
		Expect(w.inspector.ListPendingTasks(otherAsynq)).To(ConsistOf(HaveField("Type", "other:email")))
		Expect(w.inspector.ListScheduledTasks(otherAsynq)).To(ConsistOf(HaveField("Type", "other:report")))
	})
})

// memberShapes lists a job's members in order, each with the JSON kind of
// its value: what must be alike in a job whatever its ids and times.
func memberShapes(job string) []string {
	dec := json.NewDecoder(strings.NewReader(job))
	dec.UseNumber()
	var shapes []string
	tok, err := dec.Token()
	Expect(err).NotTo(HaveOccurred())
	Expect(tok).To(Equal(json.Delim('{')))
	for dec.More() {
		name, err := dec.Token()
		Expect(err).NotTo(HaveOccurred())
		var v any
		Expect(dec.Decode(&v)).To(Succeed())
		kind := "string"
		switch x := v.(type) {
		case json.Number:
			kind = "integer"
			if strings.ContainsAny(x.String(), ".eE") {
				kind = "float"
			}
		case []any:
			kind = "array"
		case bool:
			kind = "bool"
		}
		shapes = append(shapes, name.(string)+":"+kind)
	}
	return shapes
}

// dumps reads each key's serialized value (DUMP), for comparing before and
// after; a missing key is left out.
func dumps(ctx context.Context, keys []string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		d, err := rdb.Dump(ctx, k).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		Expect(err).NotTo(HaveOccurred())
		out[k] = d
	}
	return out
}
