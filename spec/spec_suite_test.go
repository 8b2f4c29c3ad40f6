// Package spec holds the end-to-end specs: they build the real worker binary
// once and run it as subprocesses against real Postgres, real Redis and a fake
// Lighthouse served from the test process, and read back what it did through
// the database, its JSON logs, its /metrics and the fake's request log. A few
// specs drive the tasks package in-process where the binary cannot show the
// property (cycle resumption, scheduler dedup).
package spec_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
)

func TestSpec(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "End-to-end: polling on asynq")
}

// The Lighthouse client identity the fake accepts.
const (
	clientID = "0oa-spec-client"
	audClaim = "https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"
)

// Per-process state, set in the suite's BeforeSuite.
var (
	workerBin string          // the built worker binary
	gdb       *gorm.DB        // this process's migrated database
	dbURL     string          // ... and its URL, for the worker
	rdb       *redis.Client   // this process's Redis database
	redisURL  string          // ... and its URL, for the worker
	rsaKey    *rsa.PrivateKey // the key the fake trusts
	keyFile   string          // ... as a PEM file, for LIGHTHOUSE_RSA_KEY
)

var _ = SynchronizedBeforeSuite(func() []byte {
	// Process 1 builds the binary once for every process.
	bin, err := gexec.Build("github.com/vagov/lighthouse526/worker", "-tags", "dev")
	Expect(err).NotTo(HaveOccurred())
	return []byte(bin)
}, func(ctx SpecContext, bin []byte) {
	workerBin = string(bin)

	var err error
	gdb, dbURL, err = dbtest.MigratedDatabase(ctx, fmt.Sprintf("spec_%d", GinkgoParallelProcess()))
	Expect(err).NotTo(HaveOccurred(), "Postgres must run at 127.0.0.1:5432")
	DeferCleanup(func(ctx SpecContext) {
		_ = db.Close(gdb)
		Expect(dbtest.DropDatabase(ctx, dbURL)).To(Succeed())
	})

	// Two Redis databases for this suite, one per parallel process; specs
	// never flush them, they delete their own keys.
	index := dbtest.RedisDBSpec + (GinkgoParallelProcess()-1)%2
	redisURL = fmt.Sprintf("redis://%s/%d", dbtest.RedisAddr(), index)
	rdb = redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: index})
	Expect(rdb.Ping(ctx).Err()).To(Succeed(), "Redis must run at "+dbtest.RedisAddr())
	DeferCleanup(rdb.Close)

	rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	dir, err := os.MkdirTemp("", "lighthouse526-spec-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	keyFile = filepath.Join(dir, "lighthouse_rsa_key.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	Expect(os.WriteFile(keyFile, pemBytes, 0o600)).To(Succeed())
}, NodeTimeout(5*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func() {
	gexec.CleanupBuildArtifacts()
})

// Every spec starts from empty tables; Redis state is per spec (world).
var _ = BeforeEach(func() {
	Expect(dbtest.Truncate(gdb)).To(Succeed())
})
