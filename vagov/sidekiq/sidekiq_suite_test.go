package sidekiq_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/db/dbtest"
)

func TestSidekiq(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "VA.gov's Sidekiq: the job client")
}

// rdb is this process's Redis database; specs never flush it, each works
// under a namespace and marker prefix of its own and deletes them.
var rdb *redis.Client

var _ = BeforeSuite(func(ctx SpecContext) {
	rdb = redis.NewClient(&redis.Options{
		Addr: dbtest.RedisAddr(),
		DB:   dbtest.RedisDBSidekiq + (GinkgoParallelProcess()-1)%2,
	})
	// A missing Redis fails the run; it never skips.
	Expect(rdb.Ping(ctx).Err()).To(Succeed(), "Redis is required at %s", dbtest.RedisAddr())
	DeferCleanup(rdb.Close)
}, NodeTimeout(time.Minute))

// uniqueName is a name no other spec uses, for namespaces and prefixes.
func uniqueName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// deleteKeysLater removes every key matching pattern when the spec ends.
func deleteKeysLater(pattern string) {
	DeferCleanup(func(ctx context.Context) {
		keys, err := rdb.Keys(ctx, pattern).Result()
		Expect(err).NotTo(HaveOccurred())
		if len(keys) > 0 {
			Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
		}
	})
}
