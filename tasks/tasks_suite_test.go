package tasks_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/models"
)

func TestTasks(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Tasks")
}

// What every spec of this package shares, set once per parallel process.
var (
	gdb    *gorm.DB        // a migrated database of this process, emptied before each spec
	gdbURL string          // its URL, to open a second pool (e.g. with callbacks of its own)
	rdb    *redis.Client   // this process's Redis database index
	rsaKey *rsa.PrivateKey // the key the fake Lighthouse trusts
)

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	// A missing Postgres or Redis fails the run; it never skips.
	gdb, gdbURL, err = dbtest.MigratedDatabase(ctx, fmt.Sprintf("tasks_%d", GinkgoParallelProcess()))
	Expect(err).NotTo(HaveOccurred(), "Postgres is required for the tasks specs")
	DeferCleanup(func(ctx SpecContext) {
		Expect(db.Close(gdb)).To(Succeed())
		Expect(dbtest.DropDatabase(ctx, gdbURL)).To(Succeed())
	})

	// go-redis reports dial failures (the outage specs cause them) to the
	// spec's output, not to the terminal.
	redis.SetLogger(redisLog{})
	rdb = redis.NewClient(&redis.Options{
		Addr: dbtest.RedisAddr(),
		DB:   dbtest.RedisDBTasks + GinkgoParallelProcess() - 1,
	})
	Expect(rdb.Ping(ctx).Err()).To(Succeed(), "Redis is required at %s", dbtest.RedisAddr())
	DeferCleanup(rdb.Close)

	rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(2*time.Minute))

// Every spec starts from empty tables; Redis is never flushed (other suites
// share the server): specs use their own queues and key prefixes instead.
var _ = BeforeEach(func() {
	Expect(dbtest.Truncate(gdb)).To(Succeed())
})

// redisLog writes go-redis's own log lines to the running spec's output.
type redisLog struct{}

func (redisLog) Printf(_ context.Context, format string, v ...any) {
	fmt.Fprintf(GinkgoWriter, "redis: "+format+"\n", v...)
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newGUID returns a random UUID string.
func newGUID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newQueue returns an asynq queue name no other spec uses, and deletes the
// queue with its tasks when the spec ends.
func newQueue(insp *asynq.Inspector) string {
	q := fmt.Sprintf("tasks-test-%d-%s", GinkgoParallelProcess(), randomHex(6))
	DeferCleanup(func() {
		if err := insp.DeleteQueue(q, true); err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			Expect(err).NotTo(HaveOccurred())
		}
	})
	return q
}

// newInspector inspects the queues of this process's Redis database.
func newInspector() *asynq.Inspector {
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: dbtest.RedisAddr(), DB: rdb.Options().DB})
	DeferCleanup(insp.Close)
	return insp
}

// newAsynqClient enqueues into this process's Redis database.
func newAsynqClient() *asynq.Client {
	c := asynq.NewClient(asynq.RedisClientOpt{Addr: dbtest.RedisAddr(), DB: rdb.Options().DB})
	DeferCleanup(c.Close)
	return c
}

// seedSubmission creates a claim submission and returns its id.
func seedSubmission(ctx context.Context) int64 {
	uuid := randomHex(16)
	s := models.Form526Submission{UserUUID: &uuid}
	Expect(gdb.WithContext(ctx).Create(&s).Error).To(Succeed())
	return s.ID
}

// seedAttachment creates a veteran's stored upload and returns its id and guid.
func seedAttachment(ctx context.Context) (int64, string) {
	a := models.FormAttachment{GUID: newGUID(), Type: "SupportingEvidenceAttachment"}
	Expect(gdb.WithContext(ctx).Create(&a).Error).To(Succeed())
	return a.ID, a.GUID
}

// seedUpload creates a pending upload of docType waiting on Lighthouse request
// requestID, with a submission of its own (and a form attachment for a
// Veteran Upload). mods change the record before it is inserted.
func seedUpload(ctx context.Context, requestID, docType string, mods ...func(*models.Lighthouse526DocumentUpload)) models.Lighthouse526DocumentUpload {
	u := models.Lighthouse526DocumentUpload{
		Form526SubmissionID:         seedSubmission(ctx),
		LighthouseDocumentRequestID: requestID,
		DocumentType:                docType,
	}
	if docType == models.DocumentTypeVeteranUpload {
		id, _ := seedAttachment(ctx)
		u.FormAttachmentID = &id
	}
	for _, m := range mods {
		m(&u)
	}
	Expect(gdb.WithContext(ctx).Create(&u).Error).To(Succeed())
	return u
}

// seedManyUploads creates n pending BDD Instructions uploads of one
// submission, with request ids "1".."n", in one insert per 500 rows.
func seedManyUploads(ctx context.Context, n int) []models.Lighthouse526DocumentUpload {
	sub := seedSubmission(ctx)
	ups := make([]models.Lighthouse526DocumentUpload, n)
	for i := range ups {
		ups[i] = models.Lighthouse526DocumentUpload{
			Form526SubmissionID:         sub,
			LighthouseDocumentRequestID: fmt.Sprint(i + 1),
			DocumentType:                models.DocumentTypeBDDInstructions,
		}
	}
	Expect(gdb.WithContext(ctx).CreateInBatches(&ups, 500).Error).To(Succeed())
	return ups
}

// reloadUpload reads an upload back from the database.
func reloadUpload(ctx context.Context, id int64) models.Lighthouse526DocumentUpload {
	var u models.Lighthouse526DocumentUpload
	Expect(gdb.WithContext(ctx).Take(&u, id).Error).To(Succeed())
	return u
}

// unknownPolls reads an upload's unknown-poll count back.
func unknownPolls(ctx context.Context, id int64) int {
	GinkgoHelper()
	n, err := models.UnknownPollCount(ctx, gdb, id)
	Expect(err).NotTo(HaveOccurred())
	return n
}

// expectStampedOnly asserts that a poll left the upload pending with nothing
// saved but its polled-at stamp.
func expectStampedOnly(ctx context.Context, id int64) {
	GinkgoHelper()
	got := reloadUpload(ctx, id)
	Expect(got.AasmState).To(Equal(models.StatePending))
	Expect(got.LastStatusResponse).To(BeNil())
	Expect(*got.StatusLastPolledAt).To(BeTemporally("==", testNow))
}

// outboxEntries returns every follow-up in the outbox, oldest first.
func outboxEntries(ctx context.Context) []models.OutboxEntry {
	var out []models.OutboxEntry
	Expect(gdb.WithContext(ctx).Order("id").Find(&out).Error).To(Succeed())
	return out
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
