package monitor_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/db/dbtest"
)

func TestMonitor(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Monitor")
}

// The login throttle's specs keep their state in Redis: the database index
// of the tasks and enqueue API suites, shared safely because no suite there
// flushes it and each spec here uses keys under a prefix of its own, which
// it deletes after itself.
var rdb *redis.Client

var _ = BeforeSuite(func(ctx SpecContext) {
	rdb = redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: dbtest.RedisDBTasks + GinkgoParallelProcess() - 1})
	Expect(rdb.Ping(ctx).Err()).To(Succeed(), "Redis is required at %s", dbtest.RedisAddr())
	DeferCleanup(rdb.Close)
})

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
