package spec_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

// world is one spec's surroundings: a started fake Lighthouse, an asynq
// queue and a Redis key prefix of its own, and the environment that points a
// worker at all of them.
type world struct {
	fake      *fake.Server
	host      string
	queue     string
	prefix    string
	client    *asynq.Client
	inspector *asynq.Inspector
	// env is the worker's environment; a spec may change it before starting
	// workers.
	env map[string]string
}

// newWorld starts a fake (its options changed by opts) and registers the
// cleanup of everything the spec leaves in Redis (never a flush: other
// suites share the server).
func newWorld(opts ...func(*fake.Options)) *world {
	suffix := randomHex(5)
	w := &world{
		queue:  fmt.Sprintf("spec%d_%s", GinkgoParallelProcess(), suffix),
		prefix: fmt.Sprintf("spec:%d:%s:", GinkgoParallelProcess(), suffix),
	}
	fo := fake.Options{PublicKey: &rsaKey.PublicKey, ClientID: clientID, AudClaimURL: audClaim}
	for _, o := range opts {
		o(&fo)
	}
	w.fake = fake.New(fo)
	var err error
	w.host, err = w.fake.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(w.fake.Close)

	w.client = asynq.NewClientFromRedisClient(rdb)
	w.inspector = asynq.NewInspectorFromRedisClient(rdb)
	DeferCleanup(w.deleteKeys)

	w.env = map[string]string{
		"DATABASE_URL":                     dbURL,
		"REDIS_URL":                        redisURL,
		"REDIS_KEY_PREFIX":                 w.prefix,
		"LIGHTHOUSE_HOST":                  w.host,
		"LIGHTHOUSE_CLIENT_ID":             clientID,
		"LIGHTHOUSE_RSA_KEY":               keyFile,
		"LIGHTHOUSE_AUD_CLAIM_URL":         audClaim,
		"LIGHTHOUSE_RATE_LIMIT_PER_MINUTE": "6000",
		"LIGHTHOUSE_RATE_BUDGET":           "6000",
		"LIGHTHOUSE_TIMEOUT":               "10s",
		"QUEUE_NAME":                       w.queue,
		"POLL_CRON":                        "* * * * *",
		"POLL_BATCH_SIZE":                  "100",
		"SHUTDOWN_TIMEOUT":                 "3s",
		"LOG_FORMAT":                       "semantic_logger",
		"LOG_LEVEL":                        "info",
		// No Flipper here: the emails forced off, as a place without
		// Flipper sets them (else the worker follows Flipper's flag, and
		// wants SIDEKIQ_REDIS_URL). Email specs set them on or unset.
		"FAILURE_NOTIFICATIONS_ENABLED": "false",
	}
	return w
}

// deleteKeys removes the spec's queue and prefixed keys.
func (w *world) deleteKeys(ctx context.Context) {
	for _, pattern := range []string{w.prefix + "*", "asynq:{" + w.queue + "}:*"} {
		keys, err := rdb.Keys(ctx, pattern).Result()
		Expect(err).NotTo(HaveOccurred())
		if len(keys) > 0 {
			Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
		}
	}
	Expect(rdb.SRem(ctx, "asynq:queues", w.queue).Err()).To(Succeed())
}

// enqueueCronCycle enqueues the cycle of a cron tick, as the scheduler does.
func (w *world) enqueueCronCycle(ctx context.Context, tick time.Time) string {
	task, err := tasks.NewPollingTask(w.queue, tick)
	Expect(err).NotTo(HaveOccurred())
	_, err = w.client.EnqueueContext(ctx, task)
	Expect(err).NotTo(HaveOccurred())
	return polling.CronCycleID(tick)
}

// enqueueAdHocCycle enqueues a cycle outside the schedule, due as of now.
func (w *world) enqueueAdHocCycle(ctx context.Context) string {
	id := "spec:" + randomHex(6)
	task, err := tasks.NewAdHocPollingTask(w.queue, id, time.Now())
	Expect(err).NotTo(HaveOccurred())
	_, err = w.client.EnqueueContext(ctx, task)
	Expect(err).NotTo(HaveOccurred())
	return id
}

// cycleDone reports whether a cycle fanned out and all its batches ended.
func cycleDone(ctx context.Context, id string) func() bool {
	return func() bool {
		var c models.PollingCycle
		if err := gdb.WithContext(ctx).Take(&c, "id = ?", id).Error; err != nil {
			return false
		}
		return c.FanOutDoneAt != nil && c.BatchesDone >= c.BatchesEnqueued
	}
}

// loadCycle reads a cycle row.
func loadCycle(ctx context.Context, id string) models.PollingCycle {
	var c models.PollingCycle
	Expect(gdb.WithContext(ctx).Take(&c, "id = ?", id).Error).To(Succeed())
	return c
}

// statusCalls returns the ids of each recorded POST /uploads/status call
// that answered with code.
func (w *world) statusCalls(code int) [][]string {
	var out [][]string
	for _, r := range w.fake.Requests() {
		if r.Path == fake.APIPrefix+"/uploads/status" && r.StatusCode == code {
			out = append(out, r.RequestIDs)
		}
	}
	return out
}

// timesAsked counts, per request id, the status calls that asked for it
// (whatever their answer).
func (w *world) timesAsked() map[string]int {
	n := map[string]int{}
	for _, r := range w.fake.Requests() {
		if r.Path == fake.APIPrefix+"/uploads/status" {
			for _, id := range r.RequestIDs {
				n[id]++
			}
		}
	}
	return n
}

// freeAddr returns a 127.0.0.1 address with a port free right now.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
