package spec_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/uuid"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/tasks"
)

// sidekiqSide is the VA.gov side of a spec: a Sidekiq queue of its own on a
// Redis database, the real Sidekiq (Debian's ruby-sidekiq, installed by
// scripts/sidekiq.sh) that serves it with the stand-in jobs of
// spec/sidekiq/jobs.rb, and the worker's settings that point at it.
type sidekiqSide struct {
	w         *world
	rdb       *redis.Client // the database Sidekiq works on
	url       string        // ... as REDIS_URL for Ruby
	queue     string        // SIDEKIQ_QUEUE
	namespace string        // SIDEKIQ_NAMESPACE, "" for none
	record    string        // the list the stand-in jobs record on
}

// newSidekiqSide points w's workers at a Sidekiq queue of the spec's own,
// under namespace when it is not empty, on the worker's Redis or, when
// ownDB, on another database. SIDEKIQ_REDIS_URL names it either way (the
// worker refuses to send emails to Sidekiq without it).
func newSidekiqSide(w *world, namespace string, ownDB bool) *sidekiqSide {
	_, err := exec.LookPath("sidekiq")
	Expect(err).NotTo(HaveOccurred(), "Sidekiq is required for these specs: run scripts/sidekiq.sh")

	s := &sidekiqSide{w: w, rdb: rdb, url: redisURL, queue: w.queue + "_sidekiq", namespace: namespace, record: w.prefix + "performed"}
	if ownDB {
		index := dbtest.RedisDBSidekiqSpec + (GinkgoParallelProcess()-1)%2
		s.url = fmt.Sprintf("redis://%s/%d", dbtest.RedisAddr(), index)
		s.rdb = redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: index})
		DeferCleanup(s.rdb.Close)
	}
	w.env["SIDEKIQ_REDIS_URL"] = s.url
	w.env["FAILURE_NOTIFICATIONS_ENABLED"] = "true"
	w.env["NOTIFICATION_TARGET"] = "sidekiq"
	w.env["SIDEKIQ_QUEUE"] = s.queue
	w.env["SIDEKIQ_NAMESPACE"] = namespace
	// The kill spec holds the relay's write; no statement timeout ends it.
	w.env["DB_STATEMENT_TIMEOUT"] = "5m"
	DeferCleanup(s.deleteKeys)
	return s
}

// key is one of Sidekiq's keys in the side's namespace.
func (s *sidekiqSide) key(name string) string {
	if s.namespace == "" {
		return name
	}
	return s.namespace + ":" + name
}

// deleteKeys removes the side's queue, its records, the push markers (on
// Sidekiq's Redis, under the world's prefix), and what a Sidekiq process
// leaves: its counters, and its queue's name in `queues`.
func (s *sidekiqSide) deleteKeys(ctx context.Context) {
	patterns := []string{s.key("queue:" + s.queue + "*"), s.key(s.record), s.key("stat:*"), s.w.prefix + "*"}
	if s.namespace != "" {
		patterns = []string{s.namespace + ":*", s.w.prefix + "*"}
	}
	for _, p := range patterns {
		keys, err := s.rdb.Keys(ctx, p).Result()
		Expect(err).NotTo(HaveOccurred())
		if len(keys) > 0 {
			Expect(s.rdb.Del(ctx, keys...).Err()).To(Succeed())
		}
	}
	Expect(s.rdb.SRem(ctx, s.key("queues"), s.queue, s.queue+"_other").Err()).To(Succeed())
}

// rubyEnv is the environment of Sidekiq and the Ruby scripts.
func (s *sidekiqSide) rubyEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "REDIS_URL=" + s.url,
		"SIDEKIQ_NAMESPACE=" + s.namespace, "SPEC_PERFORMED_KEY=" + s.record, "SPEC_MODE_KEY=" + s.modeKey()}
}

// modeKey is the key that says what the stand-in polling job's runs do
// (spec/sidekiq/polling_job.rb).
func (s *sidekiqSide) modeKey() string { return s.w.prefix + "polling_mode" }

// script is the path of a Ruby file of spec/sidekiq.
func script(name string) string {
	p, err := filepath.Abs(filepath.Join("sidekiq", name))
	Expect(err).NotTo(HaveOccurred())
	return p
}

// start runs a Sidekiq process on the side's queue until the spec ends,
// with the stand-in jobs of spec/sidekiq/jobs.rb.
func (s *sidekiqSide) start() *gexec.Session { return s.startWith("jobs.rb") }

// startWith is start with the jobs of another file of spec/sidekiq.
func (s *sidekiqSide) startWith(jobs string) *gexec.Session {
	cmd := exec.Command("sidekiq", "-r", script(jobs), "-q", s.queue, "-c", "2", "-t", "3", "-e", "test")
	cmd.Env = s.rubyEnv()
	session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) {
		session.Terminate()
		Eventually(session).WithTimeout(20 * time.Second).Should(gexec.Exit())
		// Its heartbeat (host:pid:nonce and its :workers hash).
		keys, err := s.rdb.Keys(ctx, s.key(fmt.Sprintf("*:%d:*", session.Command.Process.Pid))).Result()
		Expect(err).NotTo(HaveOccurred())
		if len(keys) > 0 {
			Expect(s.rdb.Del(ctx, keys...).Err()).To(Succeed())
		}
	})
	return session
}

// ruby runs a script of spec/sidekiq and returns its output.
func (s *sidekiqSide) ruby(name string, args ...string) []byte {
	cmd := exec.Command("ruby", append([]string{script(name)}, args...)...)
	cmd.Env = s.rubyEnv()
	cmd.Stderr = GinkgoWriter
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "ruby %s", name)
	return out
}

// sidekiqJob is a job as performed (or expected to be): its class and its
// args as JSON.
type sidekiqJob struct {
	Class string
	Args  string
}

// performedJobs reads what the stand-in jobs recorded, with each jid.
func (s *sidekiqSide) performedJobs(ctx context.Context) ([]sidekiqJob, []string) {
	lines, err := s.rdb.LRange(ctx, s.key(s.record), 0, -1).Result()
	Expect(err).NotTo(HaveOccurred())
	jobs := make([]sidekiqJob, 0, len(lines))
	jids := make([]string, 0, len(lines))
	for _, l := range lines {
		var rec struct {
			Class string          `json:"class"`
			Args  json.RawMessage `json:"args"`
			JID   string          `json:"jid"`
		}
		Expect(json.Unmarshal([]byte(l), &rec)).To(Succeed())
		jobs = append(jobs, sidekiqJob{Class: rec.Class, Args: string(rec.Args)})
		jids = append(jids, rec.JID)
	}
	return jobs, jids
}

// performed is performedJobs for Eventually and Consistently.
func (s *sidekiqSide) performed(ctx context.Context) func() []sidekiqJob {
	return func() []sidekiqJob {
		jobs, _ := s.performedJobs(ctx)
		return jobs
	}
}

// waiting returns the raw jobs on the side's queue, oldest first.
func (s *sidekiqSide) waiting(ctx context.Context) []string {
	raw, err := s.rdb.LRange(ctx, s.key("queue:"+s.queue), 0, -1).Result()
	Expect(err).NotTo(HaveOccurred())
	for i, j := 0, len(raw)-1; i < j; i, j = i+1, j-1 {
		raw[i], raw[j] = raw[j], raw[i]
	}
	return raw
}

// failedUploads seeds uploads that the world's fake fails, one submission
// each: n of each type that gets an email, two BDD Instructions that get
// none, and two that succeed. It returns the uploads that get an email and
// the jobs they must yield.
func (s *sidekiqSide) failedUploads(ctx context.Context, n int) ([]int64, []sidekiqJob) {
	var (
		ids  []int64
		want []sidekiqJob
	)
	add := func(docType string, outcome string) (models.Lighthouse526DocumentUpload, *models.FormAttachment) {
		now := time.Now().UTC()
		sub := models.Form526Submission{CreatedAt: now, UpdatedAt: now}
		Expect(gdb.WithContext(ctx).Create(&sub).Error).To(Succeed())
		doc := fake.Document{Outcome: outcome}
		if outcome == fake.StatusFailed {
			doc.FailedStep = fake.StepBGS
		}
		up := models.Lighthouse526DocumentUpload{Form526SubmissionID: sub.ID, DocumentType: docType,
			LighthouseDocumentRequestID: s.w.fake.AddDocument(doc), CreatedAt: now, UpdatedAt: now}
		var att *models.FormAttachment
		if docType == models.DocumentTypeVeteranUpload {
			att = &models.FormAttachment{GUID: uuid.NewString(), Type: "SupportingEvidenceAttachment", CreatedAt: now, UpdatedAt: now}
			Expect(gdb.WithContext(ctx).Create(att).Error).To(Succeed())
			up.FormAttachmentID = &att.ID
		}
		Expect(gdb.WithContext(ctx).Create(&up).Error).To(Succeed())
		return up, att
	}
	for range n {
		up, att := add(models.DocumentTypeVeteranUpload, fake.StatusFailed)
		ids = append(ids, up.ID)
		want = append(want, sidekiqJob{"EVSS::DisabilityCompensationForm::Form526DocumentUploadFailureEmail",
			fmt.Sprintf(`[%d,%q]`, up.Form526SubmissionID, att.GUID)})
		for _, t := range []string{models.DocumentTypeForm0781, models.DocumentTypeForm0781a} {
			up, _ := add(t, fake.StatusFailed)
			ids = append(ids, up.ID)
			want = append(want, sidekiqJob{"EVSS::DisabilityCompensationForm::Form0781DocumentUploadFailureEmail",
				"[" + strconv.FormatInt(up.Form526SubmissionID, 10) + "]"})
		}
	}
	add(models.DocumentTypeBDDInstructions, fake.StatusFailed)
	add(models.DocumentTypeBDDInstructions, fake.StatusFailed)
	add(models.DocumentTypeVeteranUpload, fake.StatusSuccess)
	add(models.DocumentTypeForm0781, fake.StatusSuccess)
	return ids, want
}

// pushedJID is the jid of the job pushed for an upload, from its marker.
func (s *sidekiqSide) pushedJID(ctx context.Context, uploadID int64) string {
	jid, err := s.rdb.Get(ctx, s.w.prefix+"sidekiq:pushed:"+tasks.NotificationTaskID(uploadID)).Result()
	Expect(err).NotTo(HaveOccurred(), "no push marker for upload %d", uploadID)
	return jid
}

// outboxCounts is how many outbox rows are marked sent, and how many not.
type outboxCounts struct{ Sent, Unsent int64 }

// outbox counts the outbox rows, for Eventually.
func outbox(ctx context.Context) func() outboxCounts {
	return func() outboxCounts {
		var c outboxCounts
		Expect(gdb.WithContext(ctx).Model(&models.OutboxEntry{}).Where("enqueued_at IS NOT NULL").Count(&c.Sent).Error).To(Succeed())
		Expect(gdb.WithContext(ctx).Model(&models.OutboxEntry{}).Where("enqueued_at IS NULL").Count(&c.Unsent).Error).To(Succeed())
		return c
	}
}
