package tasks_test

import (
	"context"
	"crypto/rsa"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
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
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

func TestTasks(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Tasks")
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
	env = spectest.Start(ctx, "tasks", dbtest.RedisDBTasks)
	gdb, gdbURL, rdb, rsaKey = env.DB, env.DBURL, env.Redis, env.Key
}, NodeTimeout(2*time.Minute))

// Every spec starts from empty tables.
var _ = BeforeEach(func() { env.Truncate() })

var testNow = spectest.TestNow

// Log messages monitors match on (a contract: the specs spell them out).
const (
	msgStatusEndpointError   = spectest.MsgStatusEndpointError
	msgBatchTooLarge         = spectest.MsgBatchTooLarge
	msgBatchTooSlow          = spectest.MsgBatchTooSlow
	msgNoStatuses            = spectest.MsgNoStatuses
	msgRetriesExhausted      = spectest.MsgRetriesExhausted
	msgQuarantined           = spectest.MsgQuarantined
	msgBatchRefused          = spectest.MsgBatchRefused
	msgStatusRequestFailed   = spectest.MsgStatusRequestFailed
	msgTaskExhaustedAgain    = spectest.MsgTaskExhaustedAgain
	msgTaskFailedPermanently = spectest.MsgTaskFailedPermanently
)

// The original's StatsD keys, as the Datadog agent receives them.
const (
	sdDoc           = spectest.SDDoc
	sdJob           = spectest.SDJob
	sdTags          = spectest.SDTags
	sdGauges        = spectest.SDGauges
	sdRequestFailed = spectest.SDRequestFailed
)

type (
	observed      = spectest.Observed
	lighthouseEnv = spectest.LighthouseEnv
	redisServer   = spectest.RedisServer
)

func newObserved() *observed                             { return spectest.NewObserved() }
func newUpdater(o *observed) *polling.StatusUpdater      { return env.NewUpdater(o) }
func beNumber(n float64) types.GomegaMatcher             { return spectest.BeNumber(n) }
func randomHex(n int) string                             { return spectest.RandomHex(n) }
func itoa(n int64) string                                { return strconv.FormatInt(n, 10) }
func ms(t time.Time) int64                               { return spectest.Ms(t) }
func newQueue(insp *asynq.Inspector) string              { return env.NewQueue(insp) }
func newInspector() *asynq.Inspector                     { return env.NewInspector() }
func newAsynqClient() *asynq.Client                      { return env.NewAsynqClient() }
func deleteKeys(ctx context.Context, prefix string)      { env.DeleteKeys(ctx, prefix) }
func seedSubmission(ctx context.Context) int64           { return env.SeedSubmission(ctx) }
func seedAttachment(ctx context.Context) (int64, string) { return env.SeedAttachment(ctx) }
func seedUpload(ctx context.Context, requestID, docType string, mods ...func(*models.Lighthouse526DocumentUpload)) models.Lighthouse526DocumentUpload {
	return env.SeedUpload(ctx, requestID, docType, mods...)
}
func seedManyUploads(ctx context.Context, n int) []models.Lighthouse526DocumentUpload {
	return env.SeedManyUploads(ctx, n)
}
func reloadUpload(ctx context.Context, id int64) models.Lighthouse526DocumentUpload {
	return env.ReloadUpload(ctx, id)
}
func unknownPolls(ctx context.Context, id int64) int         { return env.UnknownPolls(ctx, id) }
func outboxEntries(ctx context.Context) []models.OutboxEntry { return env.OutboxEntries(ctx) }
func startLighthouse(opts fake.Options, tweak ...func(*lighthouse.Config)) *lighthouseEnv {
	return env.StartLighthouse(opts, tweak...)
}
func failedEntry(requestID string, startMs, endMs int64, step string) string {
	return spectest.FailedEntry(requestID, startMs, endMs, step)
}
func statusBody(entries []string, notFound ...string) string {
	return spectest.StatusBody(entries, notFound...)
}
func decodeStatuses(body string) *lighthouse.StatusResponse { return spectest.DecodeStatuses(body) }
func applyAnswer(ctx context.Context, u *polling.StatusUpdater, log *slog.Logger, cycleID string, ids []string, resp *lighthouse.StatusResponse) (polling.BatchSummary, error) {
	return spectest.Apply(ctx, u, log, cycleID, ids, resp)
}
func listenStatsD() *statsdtest.Listener { GinkgoHelper(); return spectest.ListenStatsD() }
func sendStatsDTo(o *observed, agent *statsdtest.Listener) {
	GinkgoHelper()
	spectest.SendStatsDTo(o, agent)
}
func flushedLines(o *observed, agent *statsdtest.Listener) func() []string {
	return spectest.FlushedLines(o, agent)
}
func gaugeLines(agent *statsdtest.Listener, os ...*observed) func() []string {
	return spectest.GaugeLines(agent, os...)
}
func gaugeLine(name string, n int) string { return spectest.GaugeLine(name, n) }
func expectGauges(agent *statsdtest.Listener, os []*observed, polled, completed, failed int) {
	GinkgoHelper()
	spectest.ExpectGauges(agent, os, polled, completed, failed)
}
func sumOf(agent *statsdtest.Listener, key string) int { return spectest.SumOf(agent, key) }
func startRedisServer() *redisServer                   { GinkgoHelper(); return spectest.StartRedisServer() }
func startServer(o *observed, queue string, handlers map[string]asynq.Handler) {
	GinkgoHelper()
	env.StartServer(o, queue, handlers)
}
func expectArchivedUnretried(insp *asynq.Inspector, queue, id string) *asynq.TaskInfo {
	GinkgoHelper()
	return spectest.ExpectArchivedUnretried(insp, queue, id)
}
func testutilBatches(o *observed) float64 { return o.BatchesEnqueued() }
