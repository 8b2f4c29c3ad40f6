package runner_test

import (
	"context"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/internal/spectest"
)

func TestRunner(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Runner")
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
	env = spectest.Start(ctx, "runner", dbtest.RedisDBTasks)
	gdb, gdbURL, rdb, rsaKey = env.DB, env.DBURL, env.Redis, env.Key
}, NodeTimeout(2*time.Minute))

// Every spec starts from empty tables.
var _ = BeforeEach(func() { env.Truncate() })

// Log messages monitors match on (a contract: the specs spell them out).
const (
	msgRetriesExhausted      = spectest.MsgRetriesExhausted
	msgTaskFailedPermanently = spectest.MsgTaskFailedPermanently
)

type (
	observed = spectest.Observed
)

func newObserved() *observed                        { return spectest.NewObserved() }
func randomHex(n int) string                        { return spectest.RandomHex(n) }
func newQueue(insp *asynq.Inspector) string         { return env.NewQueue(insp) }
func newInspector() *asynq.Inspector                { return env.NewInspector() }
func newAsynqClient() *asynq.Client                 { return env.NewAsynqClient() }
func deleteKeys(ctx context.Context, prefix string) { env.DeleteKeys(ctx, prefix) }
