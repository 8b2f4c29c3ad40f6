package spec_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// subcommands is every command `worker help` lists, with the verbs of those
// that have them: the --help table covers each.
var subcommands = []string{
	"api", "bench", "config", "demo-seed", "demo-watch",
	"enqueue", "enqueue track", "enqueue poll",
	"fake-lighthouse", "migrate", "migrate up", "migrate down", "migrate status",
	"monitor", "poll", "run",
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
	)

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
