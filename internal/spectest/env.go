// Package spectest is the harness the package specs of polling, runner and
// tasks share: a migrated database and a Redis database index per parallel
// process, seeded uploads, a started fake Lighthouse with a real client, the
// metrics and logs a spec observes, a StatsD agent stand-in and a throwaway
// redis-server. It is imported by specs only (the binaries never link it).
package spectest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/runner"
)

// Env is what every spec of a suite shares, set once per parallel process.
type Env struct {
	Name  string          // the suite's name: its database, queues and key prefixes
	DB    *gorm.DB        // a migrated database of this process, emptied before each spec
	DBURL string          // its URL, to open a second pool (e.g. with callbacks of its own)
	Redis *redis.Client   // this process's Redis database index
	Key   *rsa.PrivateKey // the key the fake Lighthouse trusts
}

// Start sets up a suite's Env in its BeforeSuite: a migrated database named
// after the suite and the parallel process, the Redis database index
// redisDB plus the process's number, an RSA key, all gone when the suite
// ends. A missing Postgres or Redis fails the run; it never skips. Every
// spec then starts from empty tables (a BeforeEach of the suite's); Redis is
// never flushed (other suites share the server): specs use their own queues
// and key prefixes instead.
func Start(ctx context.Context, name string, redisDB int) *Env {
	GinkgoHelper()
	e := &Env{Name: name}
	var err error
	e.DB, e.DBURL, err = dbtest.MigratedDatabase(ctx, fmt.Sprintf("%s_%d", name, GinkgoParallelProcess()))
	Expect(err).NotTo(HaveOccurred(), "Postgres is required for the %s specs", name)
	DeferCleanup(func(ctx SpecContext) {
		Expect(db.Close(e.DB)).To(Succeed())
		Expect(dbtest.DropDatabase(ctx, e.DBURL)).To(Succeed())
	})

	// go-redis reports dial failures (the outage specs cause them) to the
	// spec's output, not to the terminal.
	redis.SetLogger(redisLog{})
	e.Redis = redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: redisDB + GinkgoParallelProcess() - 1})
	Expect(e.Redis.Ping(ctx).Err()).To(Succeed(), "Redis is required at %s", dbtest.RedisAddr())
	DeferCleanup(e.Redis.Close)

	e.Key, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	return e
}

// Truncate empties every table: a suite's BeforeEach.
func (e *Env) Truncate() {
	Expect(dbtest.Truncate(e.DB)).To(Succeed())
}

// redisLog writes go-redis's own log lines to the running spec's output.
type redisLog struct{}

func (redisLog) Printf(_ context.Context, format string, v ...any) {
	fmt.Fprintf(GinkgoWriter, "redis: "+format+"\n", v...)
}

// RandomHex returns n random bytes as hex.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewGUID returns a random UUID string.
func NewGUID() string {
	h := RandomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }

// NewQueue returns an asynq queue name no other spec uses, and deletes the
// queue with its tasks when the spec ends.
func (e *Env) NewQueue(insp *asynq.Inspector) string {
	q := fmt.Sprintf("%s-test-%d-%s", e.Name, GinkgoParallelProcess(), RandomHex(6))
	DeferCleanup(func() {
		if err := insp.DeleteQueue(q, true); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			Expect(err).NotTo(HaveOccurred())
		}
	})
	return q
}

// RedisOpt is asynq's option for this process's Redis database.
func (e *Env) RedisOpt() asynq.RedisClientOpt {
	return asynq.RedisClientOpt{Addr: dbtest.RedisAddr(), DB: e.Redis.Options().DB}
}

// NewInspector inspects the queues of this process's Redis database.
func (e *Env) NewInspector() *asynq.Inspector {
	insp := asynq.NewInspector(e.RedisOpt())
	DeferCleanup(insp.Close)
	return insp
}

// NewAsynqClient enqueues into this process's Redis database.
func (e *Env) NewAsynqClient() *asynq.Client {
	c := asynq.NewClient(e.RedisOpt())
	DeferCleanup(c.Close)
	return c
}

// DeleteKeys removes a spec's own Redis keys (never a flush: other suites
// share the server).
func (e *Env) DeleteKeys(ctx context.Context, prefix string) {
	var keys []string
	iter := e.Redis.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	Expect(iter.Err()).NotTo(HaveOccurred())
	if len(keys) > 0 {
		Expect(e.Redis.Del(ctx, keys...).Err()).To(Succeed())
	}
}

// SeedSubmission creates a claim submission and returns its id.
func (e *Env) SeedSubmission(ctx context.Context) int64 {
	uuid := RandomHex(16)
	s := models.Form526Submission{UserUUID: &uuid}
	Expect(e.DB.WithContext(ctx).Create(&s).Error).To(Succeed())
	return s.ID
}

// SeedAttachment creates a veteran's stored upload and returns its id and guid.
func (e *Env) SeedAttachment(ctx context.Context) (int64, string) {
	a := models.FormAttachment{GUID: NewGUID(), Type: "SupportingEvidenceAttachment"}
	Expect(e.DB.WithContext(ctx).Create(&a).Error).To(Succeed())
	return a.ID, a.GUID
}

// SeedUpload creates a pending upload of docType waiting on Lighthouse request
// requestID, with a submission of its own (and a form attachment for a
// Veteran Upload). mods change the record before it is inserted.
func (e *Env) SeedUpload(ctx context.Context, requestID, docType string, mods ...func(*models.Lighthouse526DocumentUpload)) models.Lighthouse526DocumentUpload {
	u := models.Lighthouse526DocumentUpload{
		Form526SubmissionID:         e.SeedSubmission(ctx),
		LighthouseDocumentRequestID: requestID,
		DocumentType:                docType,
	}
	if docType == models.DocumentTypeVeteranUpload {
		id, _ := e.SeedAttachment(ctx)
		u.FormAttachmentID = &id
	}
	for _, m := range mods {
		m(&u)
	}
	Expect(e.DB.WithContext(ctx).Create(&u).Error).To(Succeed())
	return u
}

// SeedManyUploads creates n pending BDD Instructions uploads of one
// submission, with request ids "1".."n", in one insert per 500 rows.
func (e *Env) SeedManyUploads(ctx context.Context, n int) []models.Lighthouse526DocumentUpload {
	sub := e.SeedSubmission(ctx)
	ups := make([]models.Lighthouse526DocumentUpload, n)
	for i := range ups {
		ups[i] = models.Lighthouse526DocumentUpload{
			Form526SubmissionID:         sub,
			LighthouseDocumentRequestID: fmt.Sprint(i + 1),
			DocumentType:                models.DocumentTypeBDDInstructions,
		}
	}
	Expect(e.DB.WithContext(ctx).CreateInBatches(&ups, 500).Error).To(Succeed())
	return ups
}

// ReloadUpload reads an upload back from the database.
func (e *Env) ReloadUpload(ctx context.Context, id int64) models.Lighthouse526DocumentUpload {
	var u models.Lighthouse526DocumentUpload
	Expect(e.DB.WithContext(ctx).Take(&u, id).Error).To(Succeed())
	return u
}

// UnknownPolls reads an upload's unknown-poll count back.
func (e *Env) UnknownPolls(ctx context.Context, id int64) int {
	GinkgoHelper()
	n, err := models.UnknownPollCount(ctx, e.DB, id)
	Expect(err).NotTo(HaveOccurred())
	return n
}

// ExpectStampedOnly asserts that a poll left the upload pending with nothing
// saved but its polled-at stamp.
func (e *Env) ExpectStampedOnly(ctx context.Context, id int64) {
	GinkgoHelper()
	got := e.ReloadUpload(ctx, id)
	Expect(got.AasmState).To(Equal(models.StatePending))
	Expect(got.LastStatusResponse).To(BeNil())
	Expect(*got.StatusLastPolledAt).To(BeTemporally("==", TestNow))
}

// OutboxEntries returns every follow-up in the outbox, oldest first.
func (e *Env) OutboxEntries(ctx context.Context) []models.OutboxEntry {
	var out []models.OutboxEntry
	Expect(e.DB.WithContext(ctx).Order("id").Find(&out).Error).To(Succeed())
	return out
}

// StartServer runs a real asynq server on queue with handlers behind the
// runner's middleware, retry delays and failure rule, until the spec ends.
func (e *Env) StartServer(o *Observed, queue string, handlers map[string]asynq.Handler) {
	GinkgoHelper()
	mux := asynq.NewServeMux()
	mux.Use(runner.Instrument(o.Tasks))
	for t, h := range handlers {
		mux.Handle(t, h)
	}
	srv := asynq.NewServer(e.RedisOpt(), asynq.Config{
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

// ExpectArchivedUnretried waits until the task is archived, and checks it was
// never retried.
func ExpectArchivedUnretried(insp *asynq.Inspector, queue, id string) *asynq.TaskInfo {
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
