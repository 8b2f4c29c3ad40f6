package polling_test

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/internal/spectest"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

func TestPolling(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Polling")
}

// env is the suite's shared harness (internal/spectest), set once per
// parallel process; the names below are its parts as the specs use them.
var env *spectest.Env

var (
	gdb    *gorm.DB
	gdbURL string
	rdb    *redis.Client
	rsaKey *rsa.PrivateKey
)

var _ = BeforeSuite(func(ctx SpecContext) {
	env = spectest.Start(ctx, "polling", dbtest.RedisDBTasks)
	gdb, gdbURL, rdb, rsaKey = env.DB, env.DBURL, env.Redis, env.Key
}, NodeTimeout(2*time.Minute))

// Every spec starts from empty tables.
var _ = BeforeEach(func() { env.Truncate() })

var testNow = spectest.TestNow

// Log messages monitors match on (a contract: the specs spell them out).
const (
	msgStatusUpdated       = spectest.MsgStatusUpdated
	msgFailedUploadStatus  = spectest.MsgFailedUploadStatus
	msgStatusEndpointError = spectest.MsgStatusEndpointError
	msgNoStatuses          = spectest.MsgNoStatuses
	msgQuarantined         = spectest.MsgQuarantined
	msgNoFollowUp          = spectest.MsgNoFollowUp
)

type (
	observed      = spectest.Observed
	lighthouseEnv = spectest.LighthouseEnv
)

func newObserved() *observed                        { return spectest.NewObserved() }
func newUpdater(o *observed) *polling.StatusUpdater { return env.NewUpdater(o) }
func beNumber(n float64) types.GomegaMatcher        { return spectest.BeNumber(n) }
func ptr[T any](v T) *T                             { return &v }
func ms(t time.Time) int64                          { return spectest.Ms(t) }
func seedUpload(ctx context.Context, requestID, docType string, mods ...func(*models.Lighthouse526DocumentUpload)) models.Lighthouse526DocumentUpload {
	return env.SeedUpload(ctx, requestID, docType, mods...)
}
func seedManyUploads(ctx context.Context, n int) []models.Lighthouse526DocumentUpload {
	return env.SeedManyUploads(ctx, n)
}
func reloadUpload(ctx context.Context, id int64) models.Lighthouse526DocumentUpload {
	return env.ReloadUpload(ctx, id)
}
func expectStampedOnly(ctx context.Context, id int64)        { GinkgoHelper(); env.ExpectStampedOnly(ctx, id) }
func outboxEntries(ctx context.Context) []models.OutboxEntry { return env.OutboxEntries(ctx) }
func startLighthouse(opts fake.Options, tweak ...func(*lighthouse.Config)) *lighthouseEnv {
	return env.StartLighthouse(opts, tweak...)
}
func successEntry(requestID string, startMs, endMs int64) string {
	return spectest.SuccessEntry(requestID, startMs, endMs)
}
func failedEntry(requestID string, startMs, endMs int64, step string) string {
	return spectest.FailedEntry(requestID, startMs, endMs, step)
}
func inProgressEntry(requestID string, startMs int64) string {
	return spectest.InProgressEntry(requestID, startMs)
}
func statusBody(entries []string, notFound ...string) string {
	return spectest.StatusBody(entries, notFound...)
}
func decodeStatuses(body string) *lighthouse.StatusResponse { return spectest.DecodeStatuses(body) }
func applyAnswer(ctx context.Context, u *polling.StatusUpdater, log *slog.Logger, cycleID string, ids []string, resp *lighthouse.StatusResponse) (polling.BatchSummary, error) {
	return spectest.Apply(ctx, u, log, cycleID, ids, resp)
}
