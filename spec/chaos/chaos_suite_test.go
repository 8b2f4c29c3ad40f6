// Package chaos_test is the fault suite: it runs the real worker binary as
// supervised replicas against a PostgreSQL cluster and a Redis server of its
// own (so it can crash and restart them without disturbing the machine's
// shared ones) and the fake Lighthouse, injects one kind of fault per
// scenario while polling cycles run, and then checks every upload against its
// expected final state, every failure follow-up (none lost, none twice), and
// that no request id was put in two different batches of one cycle.
//
// CHAOS=full (make chaos) runs every scenario with a few thousand uploads;
// otherwise (make test) a short form runs a subset with a few hundred. The
// table of results is printed at the end and written to CHAOS_TABLE_FILE
// (default $TMPDIR/lighthouse526-chaos-table.md).
package chaos_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
)

func TestChaos(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Chaos: faults against the real worker")
}

// full is true under CHAOS=full.
var full = os.Getenv("CHAOS") == "full"

// sizes picks the short or the full figure.
func sizes[T any](short, long T) T {
	if full {
		return long
	}
	return short
}

// The Lighthouse client identity the fake accepts.
const (
	clientID = "0oa-chaos-client"
	audClaim = "https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"
)

// world is this process's infrastructure, shared by its scenarios (which run
// one at a time within a process).
type world struct {
	pg      *pgCluster
	redis   *redisServer
	gdb     *gorm.DB
	dbURL   string
	rdb     *redis.Client
	key     *rsa.PrivateKey
	keyFile string
	keyPEM  []byte
	tmp     string
}

var (
	workerBin string
	w         *world
)

var _ = SynchronizedBeforeSuite(func() []byte {
	bin, err := gexec.Build("github.com/vagov/lighthouse526/worker", "-tags", "dev")
	Expect(err).NotTo(HaveOccurred())
	return []byte(bin)
}, func(ctx SpecContext, bin []byte) {
	workerBin = string(bin)
	w = &world{}
	var err error
	w.tmp, err = os.MkdirTemp("", "lighthouse526-chaos-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, w.tmp)

	w.pg = startPGCluster(ctx)
	DeferCleanup(func(ctx SpecContext) { w.pg.destroy(ctx) })
	w.dbURL = w.pg.URL("chaos")
	admin, err := db.Open(ctx, db.Options{URL: w.pg.URL("postgres"), MaxOpenConns: 1})
	Expect(err).NotTo(HaveOccurred())
	Expect(admin.Exec(`CREATE DATABASE chaos`).Error).To(Succeed())
	Expect(db.Close(admin)).To(Succeed())
	w.gdb, err = db.Open(ctx, db.Options{URL: w.dbURL, MaxOpenConns: 10, MaxIdleConns: 10, ConnMaxLifetime: time.Minute, StatementTimeout: time.Minute})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { _ = db.Close(w.gdb) })
	m, err := db.NewMigrator(w.gdb)
	Expect(err).NotTo(HaveOccurred())
	_, err = m.Up(ctx)
	Expect(err).NotTo(HaveOccurred())

	w.redis = startRedis("")
	DeferCleanup(w.redis.destroy)
	w.rdb = redis.NewClient(&redis.Options{Addr: w.redis.Addr(), MaxRetries: -1})
	DeferCleanup(w.rdb.Close)

	w.key, err = rsa.GenerateKey(rand.Reader, 2048)
	Expect(err).NotTo(HaveOccurred())
	w.keyPEM = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(w.key)})
	w.keyFile = filepath.Join(w.tmp, "lighthouse.pem")
	Expect(os.WriteFile(w.keyFile, w.keyPEM, 0o600)).To(Succeed())
}, NodeTimeout(5*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func() { gexec.CleanupBuildArtifacts() })

// row is one line of the results table, attached to the spec's report.
type row struct {
	Scenario   string  `json:"scenario"`
	Documents  int     `json:"documents"`
	Faults     string  `json:"faults"`
	Correct    int     `json:"correct"`
	Lost       int     `json:"lost"`
	Duplicated int     `json:"duplicated"`
	Missed     int     `json:"missed"`
	Cycles     int     `json:"cycles"`
	Restarts   int     `json:"restarts"`
	Recover    float64 `json:"recover_seconds"`
}

const rowEntry = "chaos-row"

var _ = ReportAfterSuite("chaos results table", func(r Report) {
	var rows []row
	for _, spec := range r.SpecReports {
		for _, e := range spec.ReportEntries {
			if e.Name != rowEntry {
				continue
			}
			// This process's entries hold the value; other processes' its JSON.
			if x, ok := e.Value.GetRawValue().(row); ok {
				rows = append(rows, x)
				continue
			}
			var x row
			if json.Unmarshal([]byte(e.Value.AsJSON), &x) == nil {
				rows = append(rows, x)
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Scenario < rows[j].Scenario })
	var b strings.Builder
	mode := "short (make test)"
	if full {
		mode = "full (make chaos, CHAOS=full)"
	}
	fmt.Fprintf(&b, "Chaos suite, %s, %s\n\n", mode, time.Now().UTC().Format(time.RFC3339))
	b.WriteString("| scenario | documents | faults injected | final states correct | lost | duplicated | not polled in the fault cycle (polled later) | cycles | worker restarts | time to recover |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range rows {
		fmt.Fprintf(&b, "| %s | %d | %s | %d/%d | %d | %d | %d | %d | %d | %.0fs |\n",
			x.Scenario, x.Documents, x.Faults, x.Correct, x.Documents, x.Lost, x.Duplicated, x.Missed, x.Cycles, x.Restarts, x.Recover)
	}
	path := os.Getenv("CHAOS_TABLE_FILE")
	if path == "" {
		path = filepath.Join(os.TempDir(), "lighthouse526-chaos-table.md")
	}
	_ = os.WriteFile(path, []byte(b.String()), 0o644)
	fmt.Fprintf(os.Stdout, "\n%s\n(written to %s)\n", b.String(), path)
})

// addRow attaches a scenario's result to its spec report.
func addRow(x row) {
	AddReportEntry(rowEntry, x, ReportEntryVisibilityNever)
	GinkgoWriter.Printf("%+v\n", x)
}
