package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

// Cycle.Run against the real database and queue: the fan-out resumes after an
// interruption without enqueueing a batch twice, and a cron cycle whose
// predecessor is still running is skipped.
var _ = Describe("Cycle.Run", func() {
	var (
		o      *observed
		cycle  *polling.Cycle
		queue  string
		insp   *asynq.Inspector
		client *asynq.Client
		tick   time.Time
	)

	BeforeEach(func(ctx SpecContext) {
		o = newObserved()
		insp = newInspector()
		client = newAsynqClient()
		queue = newQueue(insp)
		cycle = &polling.Cycle{
			DB: gdb, Metrics: o.Metrics,
			Now: func() time.Time { return time.Now().UTC() }, BatchSize: 2,
			Window: time.Hour, Grace: 5 * time.Minute, StaleAfter: 30 * time.Minute,
		}
		tick = time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
		// Seven due uploads, request ids "1".."7": four batches of two.
		seedManyUploads(ctx, 7)
	})

	loadCycle := func(ctx context.Context, id string) models.PollingCycle {
		var c models.PollingCycle
		Expect(gdb.WithContext(ctx).Take(&c, "id = ?", id).Error).To(Succeed())
		return c
	}

	// queued lists the batch tasks waiting in the queue: their ids, and how
	// many times each request id is queued.
	queued := func() ([]string, map[string]int) {
		infos, err := insp.ListPendingTasks(queue)
		Expect(err).NotTo(HaveOccurred())
		var ids []string
		asked := map[string]int{}
		for _, info := range infos {
			ids = append(ids, info.ID)
			var p tasks.StatusBatchPayload
			Expect(json.Unmarshal(info.Payload, &p)).To(Succeed())
			for _, id := range p.RequestIDs {
				asked[id]++
			}
		}
		return ids, asked
	}

	expectFourBatchesEachUploadOnce := func(cycleID string) {
		ids, asked := queued()
		// Batch n starts at upload 2n+1.
		Expect(ids).To(ConsistOf(
			polling.Batch{Seq: 0, FirstUploadID: 1}.TaskID(cycleID), polling.Batch{Seq: 1, FirstUploadID: 3}.TaskID(cycleID),
			polling.Batch{Seq: 2, FirstUploadID: 5}.TaskID(cycleID), polling.Batch{Seq: 3, FirstUploadID: 7}.TaskID(cycleID)))
		Expect(asked).To(HaveLen(7))
		for i := 1; i <= 7; i++ {
			Expect(asked).To(HaveKeyWithValue(strconv.Itoa(i), 1))
		}
	}

	Context("when its fan-out is interrupted after two batches", func() {
		It("resumes after the second batch without enqueueing any batch twice", func(ctx SpecContext) {
			id := polling.CronCycleID(tick)
			enqueue := tasks.EnqueueBatches(client, queue, id)
			stopped, stop := context.WithCancel(ctx)
			calls := 0
			_, err := cycle.Run(stopped, o.Logger, id, tick, func(ctx context.Context, b polling.Batch) error {
				calls++
				if calls == 3 {
					stop()
					return ctx.Err()
				}
				return enqueue(ctx, b)
			})
			Expect(err).To(MatchError(context.Canceled))
			Expect(loadCycle(ctx, id).BatchesEnqueued).To(Equal(2))

			res, err := cycle.Run(ctx, o.Logger, id, tick, enqueue)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Batches).To(Equal(4))
			Expect(res.DocumentsDue).To(Equal(7))
			expectFourBatchesEachUploadOnce(id)
		})
	})

	Context("when it stops after enqueueing a batch but before recording it", func() {
		It("enqueues that batch again under the same task id, which the queue refuses", func(ctx SpecContext) {
			id := polling.CronCycleID(tick)
			enqueue := tasks.EnqueueBatches(client, queue, id)
			stopped, stop := context.WithCancel(ctx)
			_, err := cycle.Run(stopped, o.Logger, id, tick, func(ctx context.Context, b polling.Batch) error {
				err := enqueue(ctx, b)
				if b.Seq == 2 {
					stop()
				}
				return err
			})
			Expect(err).To(HaveOccurred())
			Expect(loadCycle(ctx, id).BatchesEnqueued).To(Equal(2))
			ids, _ := queued()
			Expect(ids).To(HaveLen(3))

			_, err = cycle.Run(ctx, o.Logger, id, tick, enqueue)
			Expect(err).NotTo(HaveOccurred())
			expectFourBatchesEachUploadOnce(id)
		})
	})

	Context("when the previous cycle's batches ran longer than the grace", func() {
		It("polls what that cycle polled again in the next cycle", func(ctx SpecContext) {
			previous := polling.CronCycleID(tick)
			var batches []polling.Batch
			_, err := cycle.Run(ctx, o.Logger, previous, tick, func(_ context.Context, b polling.Batch) error {
				batches = append(batches, b)
				return nil
			})
			Expect(err).NotTo(HaveOccurred())
			// Its batches ran 10 to 40 minutes after the tick, beyond the
			// five minutes of grace.
			for i, b := range batches {
				var ids []int64
				Expect(gdb.Table("lighthouse526_document_uploads").
					Where("lighthouse_document_request_id IN ?", b.RequestIDs).Pluck("id", &ids).Error).To(Succeed())
				results := make([]models.PollResult, len(ids))
				for j, upload := range ids {
					results[j] = models.PollResult{ID: upload, NewState: models.StatePending}
				}
				_, err := models.WriteBatch(ctx, gdb, models.BatchWrite{CycleID: previous, Results: results}, tick.Add(time.Duration(10+10*i)*time.Minute))
				Expect(err).NotTo(HaveOccurred())
			}

			var polled []string
			next := tick.Add(time.Hour)
			res, err := cycle.Run(ctx, o.Logger, polling.CronCycleID(next), next, func(_ context.Context, b polling.Batch) error {
				polled = append(polled, b.RequestIDs...)
				return nil
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.DocumentsDue).To(Equal(7))
			Expect(polled).To(ConsistOf("1", "2", "3", "4", "5", "6", "7"))
		})
	})

	Context("when an enqueue's reply is lost and that batch runs before the retry", func() {
		It("enqueues the next uploads instead of taking them for the batch that ran", func(ctx SpecContext) {
			id := polling.CronCycleID(tick)
			enqueue := tasks.EnqueueBatches(client, queue, id)
			lost := errors.New("reply lost")
			_, err := cycle.Run(ctx, o.Logger, id, tick, func(ctx context.Context, b polling.Batch) error {
				if err := enqueue(ctx, b); err != nil || b.Seq < 2 {
					return err
				}
				// Batch 2 reached Redis, the reply did not; it runs at once.
				Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET status_last_polled_at = now()
					WHERE lighthouse_document_request_id IN ?`, b.RequestIDs).Error).To(Succeed())
				return lost
			})
			Expect(err).To(MatchError(lost))

			res, err := cycle.Run(ctx, o.Logger, id, tick, enqueue)
			Expect(err).NotTo(HaveOccurred())
			// The cycle recorded batches 0, 1 and the new 2 (upload 7); the
			// batch whose reply was lost is in the queue but not on its books.
			Expect(res.Batches).To(Equal(3))
			taskIDs, asked := queued()
			Expect(taskIDs).To(HaveLen(4))
			Expect(asked).To(HaveLen(7))
			for i := 1; i <= 7; i++ {
				Expect(asked).To(HaveKeyWithValue(strconv.Itoa(i), 1))
			}
		})
	})

	Context("when the previous cron cycle still has batches in flight", func() {
		var previous string

		BeforeEach(func(ctx SpecContext) {
			previous = polling.CronCycleID(tick)
			_, err := cycle.Run(ctx, o.Logger, previous, tick, tasks.EnqueueBatches(client, queue, previous))
			Expect(err).NotTo(HaveOccurred())
		})

		It("skips the cycle, counts it, and runs the one after once the batches are done", func(ctx SpecContext) {
			dispatched := 0
			count := func(context.Context, polling.Batch) error { dispatched++; return nil }

			next := tick.Add(time.Hour)
			res, err := cycle.Run(ctx, o.Logger, polling.CronCycleID(next), next, count)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Skipped).To(BeTrue())
			Expect(dispatched).To(BeZero())
			Expect(testutil.ToFloat64(o.Metrics.CyclesSkipped)).To(Equal(1.0))
			Expect(loadCycle(ctx, polling.CronCycleID(next)).Skipped).To(BeTrue())

			for range 4 {
				Expect(models.MarkBatchDone(ctx, gdb, previous, time.Now())).To(Succeed())
			}
			after := tick.Add(2 * time.Hour)
			res, err = cycle.Run(ctx, o.Logger, polling.CronCycleID(after), after, count)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Skipped).To(BeFalse())
			Expect(dispatched).To(Equal(4))
			Expect(testutil.ToFloat64(o.Metrics.CyclesSkipped)).To(Equal(1.0))
		})
	})
})
