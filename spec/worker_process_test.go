package spec_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/onsi/gomega/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// workerProc is one running `worker` subprocess.
type workerProc struct {
	session *gexec.Session
	addr    string // METRICS_ADDR
}

// command builds a worker command with the world's environment plus extra
// "KEY=value" entries.
func (w *world) command(args []string, extra ...string) *exec.Cmd {
	cmd := exec.Command(workerBin, args...)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	keys := make([]string, 0, len(w.env))
	for k := range w.env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+w.env[k])
	}
	cmd.Env = append(env, extra...)
	return cmd
}

// start runs a worker command and stops it (SIGTERM, then SIGKILL) when the
// spec ends.
func (w *world) start(args []string, extra ...string) *gexec.Session {
	session, err := gexec.Start(w.command(args, extra...), GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		session.Terminate()
		if !waitExit(session, 20*time.Second) {
			session.Kill()
			Eventually(session).WithTimeout(5 * time.Second).Should(gexec.Exit())
		}
	})
	return session
}

// startWorker runs `worker run` with args on a free metrics port and waits
// until it serves /healthz.
func (w *world) startWorker(args ...string) *workerProc {
	p := &workerProc{addr: freeAddr()}
	p.session = w.start(append([]string{"run"}, args...), "METRICS_ADDR="+p.addr)
	Eventually(func() (int, error) { return p.get("/healthz") }).
		WithTimeout(30*time.Second).WithPolling(100*time.Millisecond).
		Should(Equal(http.StatusOK), "worker run did not come up")
	return p
}

// pollWait runs `worker poll --wait --json` and returns its summary.
func (w *world) pollWait() map[string]any {
	session := w.start([]string{"poll", "--wait", "--json", "--timeout", "3m"})
	Eventually(session).WithTimeout(3*time.Minute).Should(gexec.Exit(0), "worker poll --wait failed")
	var sum map[string]any
	Expect(json.Unmarshal(session.Out.Contents(), &sum)).To(Succeed())
	return sum
}

func waitExit(s *gexec.Session, d time.Duration) bool {
	select {
	case <-s.Exited:
		return true
	case <-time.After(d):
		return false
	}
}

// signal sends sig to the worker.
func (p *workerProc) signal(sig syscall.Signal) {
	Expect(p.session.Command.Process.Signal(sig)).To(Succeed())
}

// get requests a path on the worker's ops server and returns the status.
func (p *workerProc) get(path string) (int, error) {
	code, _, err := p.fetch(path)
	return code, err
}

func (p *workerProc) fetch(path string) (int, string, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + p.addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// families scrapes /metrics.
func (p *workerProc) families() (map[string]*dto.MetricFamily, error) {
	code, body, err := p.fetch("/metrics")
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(bytes.NewReader([]byte(body)))
}

// metric sums the series of a metric whose labels include labels (a missing
// metric is 0, as a counter never incremented is).
func (p *workerProc) metric(name string, labels map[string]string) (float64, error) {
	mfs, err := p.families()
	if err != nil {
		return 0, err
	}
	var sum float64
	mf := mfs[name]
	if mf == nil {
		return 0, nil
	}
series:
	for _, m := range mf.GetMetric() {
		for k, v := range labels {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			sum += m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum, nil
}

// metricFunc is metric for Eventually and Consistently.
func (p *workerProc) metricFunc(name string, labels map[string]string) func() (float64, error) {
	return func() (float64, error) { return p.metric(name, labels) }
}

// logEntry is one log line of the worker: vets-api's envelope
// (rails_semantic_logger's JSON), its fields under "payload".
type logEntry map[string]any

// payload is the line's payload, empty when it has none.
func (e logEntry) payload() map[string]any {
	p, _ := e["payload"].(map[string]any)
	return p
}

// havePayload matches a line whose payload satisfies every matcher.
func havePayload(matchers ...types.GomegaMatcher) types.GomegaMatcher {
	return HaveKeyWithValue("payload", SatisfyAll(matchers...))
}

// logs parses the worker's JSON log lines (its stderr) so far.
func logsOf(s *gexec.Session) []logEntry {
	var out []logEntry
	sc := bufio.NewScanner(bytes.NewReader(s.Err.Contents()))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e logEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// logsWith returns the worker's log entries with message msg.
func (p *workerProc) logsWith(msg string) []logEntry {
	var out []logEntry
	for _, e := range logsOf(p.session) {
		if e["message"] == msg {
			out = append(out, e)
		}
	}
	return out
}

// logsWithFunc is logsWith for Eventually.
func (p *workerProc) logsWithFunc(msg string) func() []logEntry {
	return func() []logEntry { return p.logsWith(msg) }
}

// strings converts a JSON array of the log to strings.
func stringsOf(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		out = append(out, fmt.Sprint(x))
	}
	return out
}
