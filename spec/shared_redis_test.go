package spec_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

// keyState is what a key holds: its serialized value and its time to live.
type keyState struct {
	dump string
	pttl time.Duration
}

// asynqRegistry is asynq's list of queues, shared by every asynq
// application of a Redis database: the worker adds its queues to it.
const asynqRegistry = "asynq:queues"

// The other application's queue on the shared database.
const otherQueue = "other_app"

var _ = Describe("Sharing a Redis database with other applications", func() {
	var (
		ctx     context.Context
		shared  *redis.Client // dbtest.RedisDBShared
		w       *world
		before  map[string]keyState
		notifyQ string
	)

	// snapshot reads every key of the database (SCAN, DUMP, PTTL: all
	// read-only).
	snapshot := func() map[string]keyState {
		GinkgoHelper()
		out := map[string]keyState{}
		iter := shared.Scan(ctx, 0, "*", 500).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			dump, err := shared.Dump(ctx, k).Result()
			if errors.Is(err, redis.Nil) {
				continue // expired meanwhile
			}
			Expect(err).NotTo(HaveOccurred())
			pttl, err := shared.PTTL(ctx, k).Result()
			Expect(err).NotTo(HaveOccurred())
			out[k] = keyState{dump: dump, pttl: pttl}
		}
		Expect(iter.Err()).NotTo(HaveOccurred())
		return out
	}

	BeforeEach(func() {
		ctx = context.Background()
		shared = redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: dbtest.RedisDBShared})
		DeferCleanup(shared.Close)
		Expect(shared.Ping(ctx).Err()).To(Succeed())

		// Another application's data, Sidekiq's and another asynq app's.
		foreign := []string{"queue:default", "queues", "schedule", "retry", "processes", "stat:processed",
			"sidekiq:config", "sidekiq:lock:nightly", "asynq:{" + otherQueue + "}:*"}
		DeferCleanup(func(ctx context.Context) {
			for _, pattern := range foreign {
				keys, err := shared.Keys(ctx, pattern).Result()
				Expect(err).NotTo(HaveOccurred())
				if len(keys) > 0 {
					Expect(shared.Del(ctx, keys...).Err()).To(Succeed())
				}
			}
			Expect(shared.SRem(ctx, asynqRegistry, otherQueue).Err()).To(Succeed())
		})
		job := `{"class":"HardWorker","args":[1,2],"jid":"b4a577edbccf1d805744efa9","queue":"default","enqueued_at":1718902851.8}`
		Expect(shared.LPush(ctx, "queue:default", job, strings.Replace(job, "b4a5", "c5b6", 1)).Err()).To(Succeed())
		Expect(shared.SAdd(ctx, "queues", "default").Err()).To(Succeed())
		Expect(shared.ZAdd(ctx, "schedule", redis.Z{Score: float64(time.Now().Add(time.Hour).Unix()), Member: job}).Err()).To(Succeed())
		Expect(shared.ZAdd(ctx, "retry", redis.Z{Score: float64(time.Now().Add(10 * time.Minute).Unix()), Member: job}).Err()).To(Succeed())
		Expect(shared.SAdd(ctx, "processes", "host-1:4242:abcdef").Err()).To(Succeed())
		Expect(shared.Set(ctx, "stat:processed", "123456", 0).Err()).To(Succeed())
		Expect(shared.HSet(ctx, "sidekiq:config", "concurrency", "10", "queues", "default,mailers").Err()).To(Succeed())
		Expect(shared.Set(ctx, "sidekiq:lock:nightly", "held", time.Hour).Err()).To(Succeed())

		other := asynq.NewClientFromRedisClient(shared)
		_, err := other.EnqueueContext(ctx, asynq.NewTask("other:email", []byte(`{"to":"someone"}`)), asynq.Queue(otherQueue))
		Expect(err).NotTo(HaveOccurred())
		_, err = other.EnqueueContext(ctx, asynq.NewTask("other:report", []byte(`{}`)), asynq.Queue(otherQueue), asynq.ProcessIn(time.Hour))
		Expect(err).NotTo(HaveOccurred())

		w = newWorld()
		notifyQ = w.queue + "_notify"
		w.env["REDIS_URL"] = fmt.Sprintf("redis://%s/%d", dbtest.RedisAddr(), dbtest.RedisDBShared)
		w.env["FAILURE_NOTIFICATIONS_ENABLED"] = "true"
		w.env["NOTIFICATION_QUEUE"] = notifyQ
		// This spec checks asynq's follow-up; Sidekiq's beside asynq is
		// spec/sidekiq_test.go's.
		w.env["NOTIFICATION_TARGET"] = "asynq"
		// The product's own keys on the shared database go when the spec ends.
		DeferCleanup(func(ctx context.Context) {
			for _, pattern := range []string{w.prefix + "*", "asynq:{" + w.queue + "}:*", "asynq:{" + notifyQ + "}:*"} {
				keys, err := shared.Keys(ctx, pattern).Result()
				Expect(err).NotTo(HaveOccurred())
				if len(keys) > 0 {
					Expect(shared.Del(ctx, keys...).Err()).To(Succeed())
				}
			}
			Expect(shared.SRem(ctx, asynqRegistry, w.queue, notifyQ).Err()).To(Succeed())
		})

		before = snapshot()
	})

	It("leaves every key of the other applications byte-identical through a full worker run", func() {
		ok := w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
		failed := w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepBGS})
		ids := seedUploads(ctx, upload{requestID: ok}, upload{requestID: failed, documentType: models.DocumentTypeForm0781})
		tracked := w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})

		worker := w.startWorker("--no-scheduler")
		client := asynq.NewClientFromRedisClient(shared)
		insp := asynq.NewInspectorFromRedisClient(shared)

		// A full cycle, with a failure follow-up.
		cycle := polling.AdHocCycleID("shared-redis-" + randomHex(4))
		task, err := tasks.NewAdHocPollingTask(w.queue, cycle, time.Now())
		Expect(err).NotTo(HaveOccurred())
		_, err = client.EnqueueContext(ctx, task)
		Expect(err).NotTo(HaveOccurred())
		Eventually(cycleDone(ctx, cycle)).WithTimeout(time.Minute).Should(BeTrue())
		Expect(loadUpload(ctx, ids[0]).AasmState).To(Equal(models.StateCompleted))
		Expect(loadUpload(ctx, ids[1]).AasmState).To(Equal(models.StateFailed))
		Eventually(func() ([]*asynq.TaskInfo, error) { return insp.ListPendingTasks(notifyQ) }).
			WithTimeout(time.Minute).Should(HaveLen(1), "the failure follow-up reaches its queue")

		// The ad hoc tasks: track an upload, then poll it now.
		track, err := tasks.NewTrackTask(w.queue, tasks.TrackPayload{
			Form526SubmissionID: loadUpload(ctx, ids[0]).Form526SubmissionID, LighthouseDocumentRequestID: tracked, DocumentCode: "L023",
		})
		Expect(err).NotTo(HaveOccurred())
		_, err = client.EnqueueContext(ctx, track)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() ([]models.Lighthouse526DocumentUpload, error) {
			return models.UploadsByRequestID(ctx, gdb, tracked)
		}).WithTimeout(time.Minute).Should(HaveLen(1))
		poll, err := tasks.NewPollNowTask(w.queue, tasks.PollNowPayload{RequestIDs: []string{tracked}}, time.Now())
		Expect(err).NotTo(HaveOccurred())
		_, err = client.EnqueueContext(ctx, poll)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() (string, error) {
			ups, err := models.UploadsByRequestID(ctx, gdb, tracked)
			if err != nil || len(ups) == 0 {
				return "", err
			}
			return ups[0].AasmState, nil
		}).WithTimeout(time.Minute).Should(Equal(models.StateCompleted))

		worker.session.Terminate()
		Eventually(worker.session).WithTimeout(30 * time.Second).Should(gexec.Exit(0))

		after := snapshot()
		for k, was := range before {
			if k == asynqRegistry {
				continue // shared by design; checked below
			}
			now, ok := after[k]
			Expect(ok).To(BeTrue(), "foreign key %q is gone", k)
			Expect(now.dump).To(Equal(was.dump), "foreign key %q changed", k)
			if was.pttl < 0 {
				Expect(now.pttl).To(Equal(was.pttl), "foreign key %q got a TTL", k)
			} else {
				Expect(now.pttl).To(SatisfyAll(BeNumerically(">", 0), BeNumerically("<=", was.pttl)), "foreign key %q had its TTL changed", k)
			}
		}
		Expect(shared.SMembers(ctx, asynqRegistry).Val()).To(ContainElement(otherQueue), "the other app's queue stays registered")

		// Everything the worker wrote is in asynq's namespace or under its
		// own prefix.
		for k := range after {
			if _, existed := before[k]; !existed {
				Expect(strings.HasPrefix(k, "asynq:") || strings.HasPrefix(k, w.prefix)).To(BeTrue(), "the worker wrote key %q outside its namespaces", k)
			}
		}
	})
})
