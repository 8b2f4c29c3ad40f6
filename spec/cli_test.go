package spec_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// subcommands is every command `worker help` lists, with the verbs of those
// that have them: the --help table covers each.
var subcommands = []string{
	"api", "bench", "config", "cutover", "cutover check", "demo-seed", "demo-watch",
	"enqueue", "enqueue track", "enqueue poll",
	"fake-lighthouse", "migrate", "migrate up", "migrate down", "migrate status",
	"monitor", "outbox", "outbox show", "outbox drain", "poll", "run", "simulate",
	"uploads", "uploads show", "uploads stuck", "uploads release",
	"version",
}

// runBare runs the worker binary with nothing but PATH in its environment
// (no database, Redis or Lighthouse settings) and waits for it to exit.
func runBare(args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(workerBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	Eventually(session).WithTimeout(30 * time.Second).Should(gexec.Exit())
	return session
}

var _ = Describe("The worker's command line", func() {
	It("has a --help entry below for every command it lists", func() {
		session := runBare("help")
		Expect(session.ExitCode()).To(Equal(0))
		listed := regexp.MustCompile(`(?m)^  (\S+)\s`).FindAllStringSubmatch(string(session.Out.Contents()), -1)
		Expect(listed).NotTo(BeEmpty())
		for _, m := range listed {
			Expect(subcommands).To(ContainElement(m[1]), "worker help lists %q", m[1])
		}
	})

	help := func(flag string) {
		for _, sub := range subcommands {
			It("answers worker "+sub+" "+flag+" with its usage on stdout, exit 0", func() {
				session := runBare(append(strings.Fields(sub), flag)...)
				Expect(session.ExitCode()).To(Equal(0), "stderr: %s", session.Err.Contents())
				Expect(string(session.Out.Contents())).To(HavePrefix("usage: worker " + strings.Fields(sub)[0]))
				Expect(session.Err.Contents()).To(BeEmpty())
			})
		}
	}
	Describe("--help", func() { help("--help") })
	Describe("-h", func() { help("-h") })

	DescribeTable("refuses a zero or negative limit or duration, naming the flag, exit 2",
		func(args string, message string) {
			session := runBare(strings.Fields(args)...)
			Expect(session.ExitCode()).To(Equal(2))
			Expect(string(session.Err.Contents())).To(ContainSubstring(message))
		},
		Entry(nil, "uploads stuck --limit 0", "--limit must be a positive number, got 0"),
		Entry(nil, "uploads stuck --limit -5", "--limit must be a positive number, got -5"),
		Entry(nil, "uploads stuck --older-than -1h", "--older-than must be a positive duration"),
		Entry(nil, "uploads stuck --unknown-polls 0", "--unknown-polls must be a positive number"),
		Entry(nil, "poll --wait --timeout 0s", "--timeout must be a positive duration"),
		Entry(nil, "demo-watch --interval 0s", "--interval must be a positive duration"),
		Entry(nil, "demo-watch --timeout -1s", "--timeout must be a positive duration"),
		Entry(nil, "demo-seed --count 0", "--count must be a positive number"),
		Entry(nil, "demo-seed --concurrency -2", "--concurrency must be a positive number"),
		Entry(nil, "bench --documents 0", "--documents must be a positive number"),
		Entry(nil, "bench --workers -1", "--workers must not be negative"),
		Entry(nil, "bench --timeout 0s", "--timeout must be a positive duration"),
		Entry(nil, "fake-lighthouse --rate-limit -1", "--rate-limit must not be negative"),
		Entry(nil, "fake-lighthouse --token-lifetime 0s", "--token-lifetime must be a positive duration"),
		Entry(nil, "fake-lighthouse --fail-bgs 1.5", "--fail-bgs must be between 0 and 1"),
		Entry(nil, "enqueue poll --submission-id 0", "--submission-id must be a positive number, got 0"),
		Entry(nil, "enqueue track --submission-id -3 --request-id 634 --document-code L228", "--submission-id must be a positive number, got -3"),
		Entry(nil, "cutover check --interval 0s", "--interval must be a positive duration"),
		Entry(nil, "cutover check --wait -1m", "--wait must not be negative"),
		Entry(nil, "outbox show --limit 0", "--limit must be a positive number, got 0"),
		Entry(nil, "outbox drain --timeout 0s", "--timeout must be a positive duration"),
		Entry(nil, "outbox drain --timeout 2h", "--timeout must be at most 1h0m0s"),
	)

	DescribeTable("refuses extra arguments, exit 2",
		func(args string) {
			session := runBare(strings.Fields(args)...)
			Expect(session.ExitCode()).To(Equal(2))
			Expect(string(session.Err.Contents())).To(ContainSubstring(`unexpected argument "extra"`))
		},
		Entry(nil, "config extra"),
		Entry(nil, "run extra"),
		Entry(nil, "api extra"),
		Entry(nil, "monitor extra"),
		Entry(nil, "poll --now extra"),
		Entry(nil, "migrate up extra"),
		Entry(nil, "bench extra"),
		Entry(nil, "demo-seed extra"),
		Entry(nil, "demo-watch extra"),
		Entry(nil, "fake-lighthouse extra"),
		Entry(nil, "enqueue poll --request-id 1 extra"),
		Entry(nil, "uploads stuck extra"),
		Entry(nil, "uploads show 634 extra"),
		Entry(nil, "simulate extra"),
		Entry(nil, "cutover check extra"),
		Entry(nil, "outbox show extra"),
		Entry(nil, "outbox drain extra"),
	)

	DescribeTable("refuses a simulation it cannot run, naming the flag, exit 2",
		func(args string, message string) {
			session := runBare(strings.Fields(args)...)
			Expect(session.ExitCode()).To(Equal(2))
			Expect(string(session.Err.Contents())).To(ContainSubstring(message))
			Expect(session.Out.Contents()).To(BeEmpty())
		},
		Entry(nil, "simulate --budget 0", "--budget must be between 1 and 100000, got 0"),
		Entry(nil, "simulate --days -1", "--days must be between 1 and 92, got -1"),
		Entry(nil, "simulate --per-day 0", "--per-day must be a number above 0 and at most 100000, got 0"),
		Entry(nil, "simulate --warmup -1h", "--warmup must be between 0s and 720h0m0s"),
		Entry(nil, "simulate --batch-size 5000", "--batch-size must be between 1 and 1000, got 5000"),
		Entry(nil, "simulate --floor 0s", "--floor must be between 1s and 168h0m0s"),
		Entry(nil, "simulate --fixed-cron-period 90s", "--fixed-cron-period must be a whole number of minutes up to 24h0m0s, got 1m30s"),
		Entry(nil, "simulate --never 2", "--never must be between 0 and 1, got 2"),
		// Each of these once ran out of memory or for ever (NaN: deaf to
		// SIGINT and SIGTERM, 21 GB), or printed NaN% and exited 0.
		Entry(nil, "simulate --per-day NaN", "--per-day must be a number above 0 and at most 100000, got NaN"),
		Entry(nil, "simulate --per-day Inf", "got +Inf"),
		Entry(nil, "simulate --per-day 1e12", "got 1e+12"),
		Entry(nil, "simulate --days 100000", "--days must be between 1 and 92, got 100000"),
		Entry(nil, "simulate --failed NaN", "--failed must be between 0 and 1, got NaN"),
		Entry(nil, "simulate --never NaN", "--never must be between 0 and 1, got NaN"),
		Entry(nil, "simulate --per-day 100000 --days 30", "must be at most 1000000 uploads"),
		Entry(nil, "simulate --ladder 0:5m,1h:2m", "--ladder: poll ladder rung 2: interval 2m0s is shorter"),
		Entry(nil, "simulate --ladder every-5m", "--ladder: poll ladder rung 1"),
		Entry(nil, "simulate --mixture 0.5:1h:15m", "--mixture: mixture shares and the never-finishing share add up to 0.52, not 1"),
		Entry(nil, "simulate --first-poll later", `--first-poll: first poll "later"`),
		Entry(nil, "simulate --out picture.gif", `--out "picture.gif": want a .svg or .png file`),
		Entry(nil, "simulate --seed minus-one", `invalid value "minus-one" for flag -seed`),
	)

	Describe("simulate", func() {
		It("stops at SIGTERM and at SIGINT, mid-run", func() {
			for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGINT} {
				// About 900,000 uploads: tens of seconds of work, were it run.
				cmd := exec.Command(workerBin, "simulate", "--per-day", "100000", "--days", "9", "--warmup", "0s", "--json")
				cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
				session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
				Expect(err).NotTo(HaveOccurred())
				Consistently(session).WithTimeout(time.Second).ShouldNot(gexec.Exit(), "the run is long enough to be stopped")
				session.Signal(sig)
				Eventually(session).WithTimeout(10*time.Second).Should(gexec.Exit(1), "stopped by %v", sig)
				Expect(string(session.Err.Contents())).To(ContainSubstring("context canceled"))
				Expect(session.Out.Contents()).To(BeEmpty())
			}
		})

		It("prints both strategies' figures as JSON and writes the picture", func() {
			out := filepath.Join(GinkgoT().TempDir(), "sim.png")
			session := runBare("simulate", "--per-day", "300", "--days", "1", "--warmup", "6h", "--out", out, "--json")
			Expect(session.ExitCode()).To(Equal(0), "stderr: %s", session.Err.Contents())
			var res struct {
				Strategies []struct {
					Strategy string `json:"strategy"`
					Finished int    `json:"finished"`
				} `json:"strategies"`
				Goals []struct{ Name string } `json:"goals"`
			}
			Expect(json.Unmarshal(session.Out.Contents(), &res)).To(Succeed())
			Expect(res.Strategies).To(HaveLen(2))
			Expect(res.Strategies[0].Strategy).To(Equal("fixed"))
			Expect(res.Strategies[1].Strategy).To(Equal("adaptive"))
			Expect(res.Strategies[1].Finished).To(BeNumerically(">", 100))
			Expect(res.Goals).To(HaveLen(5))
			info, err := os.Stat(out)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.Size()).To(BeNumerically(">", 0))
		})

		It("refuses --fit-from-db on a database with too few finished uploads, saying how many it found", func(ctx context.Context) {
			w := newWorld()
			seedUploads(ctx, upload{requestID: "7101", state: "completed"}, upload{requestID: "7102"})
			session := w.start([]string{"simulate", "--fit-from-db", "--out", ""})
			Eventually(session).WithTimeout(30 * time.Second).Should(gexec.Exit(1))
			Expect(string(session.Err.Contents())).To(ContainSubstring("found 0 completed or failed uploads with both processing times"))
			Expect(string(session.Err.Contents())).NotTo(ContainSubstring("7101"))
		})
	})

	Describe("uploads show", func() {
		It("prints Lighthouse's text with its control characters escaped", func(ctx context.Context) {
			w := newWorld()
			ids := seedUploads(ctx, upload{requestID: "7001"})
			detail := "Upload rejected \x1b[2J\x1b[H\x07 by \u202eVBMS"
			Expect(gdb.WithContext(ctx).Exec(`UPDATE lighthouse526_document_uploads SET last_status_response = ? WHERE id = ?`,
				`{"status":"FAILED","steps":[{"name":"CLAIMS_EVIDENCE","status":"FAILED"}],`+
					`"error":{"step":"CLAIMS_EVIDENCE","detail":"`+strings.NewReplacer("\x1b", `\u001b`, "\x07", `\u0007`).Replace(detail)+`"}}`,
				ids[0]).Error).To(Succeed())

			session := w.start([]string{"uploads", "show", "7001"})
			Eventually(session).WithTimeout(30 * time.Second).Should(gexec.Exit(0))
			out := string(session.Out.Contents())
			Expect(out).To(ContainSubstring(`Upload rejected \x1b[2J\x1b[H\x07 by \u202eVBMS`))
			Expect(out).NotTo(ContainSubstring("\x1b"))
			Expect(out).NotTo(ContainSubstring("\x07"))
			Expect(out).NotTo(ContainSubstring("\u202e"))
		})

		It("takes --json after the request id", func(ctx context.Context) {
			w := newWorld()
			seedUploads(ctx, upload{requestID: "7002"})
			session := w.start([]string{"uploads", "show", "7002", "--json"})
			Eventually(session).WithTimeout(30 * time.Second).Should(gexec.Exit(0))
			Expect(session.Out.Contents()).To(ContainSubstring(`"lighthouse_document_request_id": "7002"`))
		})
	})
})
