package api_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/db/dbtest"
)

func TestHTTPAPI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Enqueue API")
}

// Per-process state: a Redis database index (shared with the tasks suite:
// specs use queues of their own, never a flush) and the token keys.
var (
	rdb      *redis.Client
	rsaKey   *rsa.PrivateKey // signs RS256 tokens the API trusts
	otherKey *rsa.PrivateKey // a key the API does not trust
)

var _ = BeforeSuite(func(ctx SpecContext) {
	rdb = redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: dbtest.RedisDBTasks + GinkgoParallelProcess() - 1})
	Expect(rdb.Ping(ctx).Err()).To(Succeed(), "Redis is required at %s", dbtest.RedisAddr())
	DeferCleanup(rdb.Close)
	var err error
	rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	otherKey, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
})

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newQueueName() string {
	return fmt.Sprintf("httpapi-test-%d-%s", GinkgoParallelProcess(), randomHex(6))
}
