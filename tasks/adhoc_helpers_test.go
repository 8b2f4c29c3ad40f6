package tasks_test

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/runner"
)

// startServer runs a real asynq server on queue with the handlers of mux
// behind the Instrument middleware, until the spec ends.
func startServer(o *observed, queue string, handlers map[string]asynq.Handler) {
	GinkgoHelper()
	mux := asynq.NewServeMux()
	mux.Use(runner.Instrument(o.Tasks, o.Logger))
	for t, h := range handlers {
		mux.Handle(t, h)
	}
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: dbtest.RedisAddr(), DB: rdb.Options().DB}, asynq.Config{
		Concurrency:    2,
		Queues:         map[string]int{queue: 1},
		RetryDelayFunc: runner.RetryDelay,
		IsFailure:      runner.IsFailure,
		Logger:         runner.AsynqLogger(slog.New(slog.DiscardHandler)),
		LogLevel:       asynq.FatalLevel,
	})
	Expect(srv.Start(mux)).To(Succeed())
	DeferCleanup(srv.Shutdown)
}

// expectArchivedUnretried waits until the task is archived, and checks it was
// never retried.
func expectArchivedUnretried(insp *asynq.Inspector, queue, id string) *asynq.TaskInfo {
	GinkgoHelper()
	var info *asynq.TaskInfo
	Eventually(func() (asynq.TaskState, error) {
		var err error
		info, err = insp.GetTaskInfo(queue, id)
		if err != nil {
			return 0, err
		}
		return info.State, nil
	}).WithTimeout(15 * time.Second).Should(Equal(asynq.TaskStateArchived))
	Expect(info.Retried).To(BeZero())
	return info
}

// rejected reads form526_document_upload_rejected_tasks_total.
func (o *observed) Rejected(taskType, reason string) float64 {
	return testutil.ToFloat64(o.Metrics.RejectedTasks.WithLabelValues(taskType, reason))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// testutilBatches reads form526_document_upload_batches_enqueued_total.
func testutilBatches(o *observed) float64 { return testutil.ToFloat64(o.Metrics.BatchesEnqueued) }
