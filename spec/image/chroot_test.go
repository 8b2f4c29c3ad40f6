package image_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

// The Lighthouse client identity the fake accepts.
const (
	clientID = "0oa-image-spec"
	audClaim = "https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"
)

// inImage is a command running the image's entrypoint with args from the
// unpacked root filesystem, as the image's user, in the image's environment
// plus env (later entries win, as a runtime's --env does).
func inImage(ctx context.Context, env []string, args ...string) *exec.Cmd {
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		chroot = "/usr/sbin/chroot"
	}
	c := image.Config.Config
	argv := append([]string{"--userspec=" + c.User, shared.Rootfs}, c.Entrypoint...)
	cmd := exec.CommandContext(ctx, chroot, append(argv, args...)...)
	cmd.Env = append(slices.Clone(c.Env), env...)
	return cmd
}

// runInImage runs a command from the image, expects it to succeed and
// returns its standard output.
func runInImage(ctx context.Context, env []string, args ...string) string {
	cmd := inImage(ctx, env, args...)
	var stderr strings.Builder
	cmd.Stderr = io.MultiWriter(&stderr, GinkgoWriter)
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "worker %v in the image:\n%s%s", args, out, stderr.String())
	return string(out)
}

var _ = Describe("The image's binary, run from its root filesystem as its user", Ordered, func() {
	var (
		gdb *gorm.DB
		lh  *fake.Server
		env []string
	)

	BeforeAll(func(ctx SpecContext) {
		// An empty database: migrating it is the first spec.
		dbURL, err := dbtest.CreateDatabase(ctx, fmt.Sprintf("image_%d", GinkgoParallelProcess()))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { Expect(dbtest.DropDatabase(ctx, dbURL)).To(Succeed()) })
		gdb, err = db.Open(ctx, db.Options{URL: dbURL, MaxOpenConns: 2})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(db.Close, gdb)

		key, err := rsa.GenerateKey(rand.Reader, 2048)
		Expect(err).NotTo(HaveOccurred())
		lh = fake.New(fake.Options{PublicKey: &key.PublicKey, ClientID: clientID, AudClaimURL: audClaim})
		host, err := lh.Start()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(lh.Close)

		// A queue and key prefix of this run's own; its keys go at the end.
		suffix := randomHex(5)
		queue, prefix := "image_"+suffix, "image:"+suffix+":"
		redisDB := dbtest.RedisDBImage + (GinkgoParallelProcess()-1)%2
		rdb := redis.NewClient(&redis.Options{Addr: dbtest.RedisAddr(), DB: redisDB})
		Expect(rdb.Ping(ctx).Err()).To(Succeed(), "Redis must run at "+dbtest.RedisAddr())
		DeferCleanup(rdb.Close)
		DeferCleanup(func(ctx SpecContext) {
			for _, pattern := range []string{prefix + "*", "asynq:{" + queue + "}:*"} {
				keys, err := rdb.Keys(ctx, pattern).Result()
				Expect(err).NotTo(HaveOccurred())
				if len(keys) > 0 {
					Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
				}
			}
			Expect(rdb.SRem(ctx, "asynq:queues", queue).Err()).To(Succeed())
		})

		// The key as PEM text in the environment: the image has nowhere to
		// put a file, as a read-only root filesystem has not.
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		env = []string{
			"DATABASE_URL=" + dbURL,
			fmt.Sprintf("REDIS_URL=redis://%s/%d", dbtest.RedisAddr(), redisDB),
			"REDIS_KEY_PREFIX=" + prefix,
			"QUEUE_NAME=" + queue,
			"LIGHTHOUSE_HOST=" + host,
			"LIGHTHOUSE_CLIENT_ID=" + clientID,
			"LIGHTHOUSE_RSA_KEY=" + string(pemKey),
			"LIGHTHOUSE_AUD_CLAIM_URL=" + audClaim,
			"POLL_CRON=* * * * *",
			"SHUTDOWN_TIMEOUT=5s",
			"LOG_FORMAT=semantic_logger",
			// No Flipper and no Sidekiq here: the emails forced off.
			"FAILURE_NOTIFICATIONS_ENABLED=false",
		}
	})

	// seed inserts one submission with a pending upload per request id and
	// returns the uploads' ids.
	seed := func(ctx context.Context, requestIDs ...string) []int64 {
		now := time.Now().UTC()
		sub := models.Form526Submission{CreatedAt: now, UpdatedAt: now}
		Expect(gdb.WithContext(ctx).Create(&sub).Error).To(Succeed())
		ids := make([]int64, len(requestIDs))
		for i, rid := range requestIDs {
			up := models.Lighthouse526DocumentUpload{
				Form526SubmissionID: sub.ID, LighthouseDocumentRequestID: rid,
				DocumentType: models.DocumentTypeBDDInstructions, CreatedAt: now, UpdatedAt: now,
			}
			Expect(gdb.WithContext(ctx).Create(&up).Error).To(Succeed())
			ids[i] = up.ID
		}
		return ids
	}
	states := func(ctx context.Context, ids []int64) []string {
		var out []string
		Expect(gdb.WithContext(ctx).Model(&models.Lighthouse526DocumentUpload{}).
			Where("id IN ?", ids).Order("id").Pluck("aasm_state", &out).Error).To(Succeed())
		return out
	}

	It("migrates the database, and finds nothing to do the second time (every rollout runs it)", func(ctx SpecContext) {
		Expect(runInImage(ctx, env, "migrate", "up")).To(MatchRegexp(`(?m)^applied +00001 `))
		Expect(runInImage(ctx, env, "migrate", "up")).To(Equal("schema is up to date\n"))
		status := strings.Split(strings.TrimSpace(runInImage(ctx, env, "migrate", "status")), "\n")
		Expect(status).NotTo(BeEmpty())
		Expect(status).To(HaveEach(HavePrefix("applied ")))
	})

	It("polls once with poll --now, recording each upload's fate", func(ctx SpecContext) {
		ids := seed(ctx,
			lh.AddDocument(fake.Document{Outcome: fake.StatusSuccess}),
			lh.AddDocument(fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepBGS}))
		var sum map[string]any
		Expect(json.Unmarshal([]byte(runInImage(ctx, env, "poll", "--now", "--json")), &sum)).To(Succeed())
		Expect(sum).To(And(HaveKeyWithValue("due", 2.0), HaveKeyWithValue("completed", 1.0),
			HaveKeyWithValue("failed", 1.0), HaveKeyWithValue("errors", 0.0)))
		Expect(states(ctx, ids)).To(HaveExactElements(models.StateCompleted, models.StateFailed))
	})

	It("runs the worker: ready on its ops server, as the image's user, polling on schedule until SIGTERM", func(ctx SpecContext) {
		ids := seed(ctx, lh.AddDocument(fake.Document{Outcome: fake.StatusSuccess}))
		addr := freeAddr()
		session, err := gexec.Start(inImage(context.WithoutCancel(ctx), append(env, "METRICS_ADDR="+addr), "run"), GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			session.Kill()
			Eventually(session).WithTimeout(10 * time.Second).Should(gexec.Exit())
		})

		get := func(path string) func() (string, error) {
			return func() (string, error) {
				c := http.Client{Timeout: 5 * time.Second}
				resp, err := c.Get("http://" + addr + path)
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				return strconv.Itoa(resp.StatusCode) + " " + string(body), err
			}
		}
		Eventually(get(config.ReadyzPath)).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).
			Should(Equal("200 ready\n"))
		Expect(get(config.HealthzPath)()).To(Equal("200 ok\n"))

		// chroot execs the worker in its own process: its ids are the image's.
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", session.Command.Process.Pid))
		Expect(err).NotTo(HaveOccurred())
		uid, gid, _ := strings.Cut(image.Config.Config.User, ":")
		Expect(string(status)).To(ContainSubstring(fmt.Sprintf("\nUid:\t%s\t%s\t%s\t%s\n", uid, uid, uid, uid)))
		Expect(string(status)).To(ContainSubstring(fmt.Sprintf("\nGid:\t%s\t%s\t%s\t%s\n", gid, gid, gid, gid)))

		// The scheduler's catch-up cycle polls the never-polled upload.
		Eventually(func() []string { return states(ctx, ids) }).WithTimeout(30 * time.Second).
			Should(HaveExactElements(models.StateCompleted))
		Expect(get(config.MetricsPath)()).To(MatchRegexp(
			`(?m)^200 |^form526_document_upload_status_total\{document_type="bdd_instructions",failed_step="",outcome="complete"\} 1$`))

		session.Terminate()
		Eventually(session).WithTimeout(30 * time.Second).Should(gexec.Exit(0))
	})
})

var _ = Describe("The image's time-zone data", func() {
	It("lets a schedule name its zone", func(ctx SpecContext) {
		Expect(runInImage(ctx, []string{"POLL_CRON=CRON_TZ=America/New_York 15 * * * *"}, "config")).
			To(ContainSubstring("POLL_CRON=CRON_TZ=America/New_York 15 * * * *"))

		cmd := inImage(ctx, []string{"POLL_CRON=CRON_TZ=Mars/Olympus_Mons 15 * * * *"}, "config")
		out, err := cmd.CombinedOutput()
		Expect(err).To(HaveOccurred())
		Expect(cmd.ProcessState.ExitCode()).To(Equal(2), string(out))
		Expect(string(out)).To(ContainSubstring("POLL_CRON"))
	})
})

// freeAddr returns a 127.0.0.1 address with a port free right now.
func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	return ln.Addr().String()
}
