package monitor_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/vagov/semanticlogger"
	"github.com/vagov/lighthouse526/worker/monitor"
)

// logBuffer collects JSON log lines written from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// entries returns the payloads of the logged lines with message msg (the
// worker's envelope, vagov/semanticlogger: the fields under payload).
func (b *logBuffer) entries(msg string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var e struct {
			Message string         `json:"message"`
			Payload map[string]any `json:"payload"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Message == msg {
			out = append(out, e.Payload)
		}
	}
	return out
}

const xsrf = "an-xsrf-token-of-at-least-32-bytes-long"

var _ = Describe("Guard", func() {
	var (
		logs   *logBuffer
		called int
		guard  monitor.Guard
		h      http.Handler
	)

	BeforeEach(func() {
		logs = &logBuffer{}
		called = 0
		guard = monitor.Guard{
			Root: "/monitor", Addr: "127.0.0.1:9480",
			ScriptHashes: []string{"'sha256-abc='"},
			Logger:       slog.New(semanticlogger.NewHandler(logs, nil)),
		}
	})

	build := func() {
		inner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			called++
			w.WriteHeader(http.StatusNoContent)
		})
		h = guard.Wrap(inner)
	}

	serve := func(method, target string, set func(*http.Request)) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, nil)
		req.Host = "127.0.0.1:9480"
		if set != nil {
			set(req)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	withXSRF := func(r *http.Request) {
		r.AddCookie(&http.Cookie{Name: "XSRF-TOKEN", Value: xsrf})
		r.Header.Set("X-XSRF-TOKEN", xsrf)
	}

	Context("with authentication on", func() {
		BeforeEach(build)

		It("sends a CSP, X-Frame-Options and X-Content-Type-Options, and an XSRF cookie for the UI", func() {
			rec := serve(http.MethodGet, "/monitor/", nil)
			Expect(rec.Code).To(Equal(http.StatusNoContent))
			csp := rec.Header().Get("Content-Security-Policy")
			Expect(csp).To(ContainSubstring("frame-ancestors 'none'"))
			Expect(csp).To(ContainSubstring("script-src 'self' 'sha256-abc='"))
			Expect(csp).To(ContainSubstring("default-src 'none'"))
			Expect(csp).NotTo(MatchRegexp(`script-src[^;]*unsafe-inline`))
			Expect(rec.Header().Get("X-Frame-Options")).To(Equal("DENY"))
			Expect(rec.Header().Get("X-Content-Type-Options")).To(Equal("nosniff"))
			cookies := rec.Result().Cookies()
			Expect(cookies).To(ContainElement(SatisfyAll(
				HaveField("Name", "XSRF-TOKEN"), HaveField("Path", "/monitor"),
				HaveField("SameSite", http.SameSiteStrictMode), HaveField("HttpOnly", false),
				HaveField("Value", HaveLen(43)),
			)))
		})

		DescribeTable("refuses a changing call with 403, before it reaches asynqmon",
			func(method string, set func(*http.Request)) {
				rec := serve(method, "/monitor/api/queues/q:pause", set)
				Expect(rec.Code).To(Equal(http.StatusForbidden))
				Expect(called).To(BeZero())
				Expect(logs.entries("monitor action")).To(BeEmpty())
			},
			Entry("a simple cross-site form POST without the header", http.MethodPost, nil),
			Entry("a header that differs from the cookie", http.MethodDelete, func(r *http.Request) {
				r.AddCookie(&http.Cookie{Name: "XSRF-TOKEN", Value: xsrf})
				r.Header.Set("X-XSRF-TOKEN", strings.ToUpper(xsrf))
			}),
			Entry("the header without the cookie", http.MethodPost, func(r *http.Request) { r.Header.Set("X-XSRF-TOKEN", xsrf) }),
			Entry("Sec-Fetch-Site cross-site", http.MethodPost, func(r *http.Request) {
				withXSRF(r)
				r.Header.Set("Sec-Fetch-Site", "cross-site")
			}),
			Entry("Sec-Fetch-Site same-site (a sibling subdomain)", http.MethodDelete, func(r *http.Request) {
				withXSRF(r)
				r.Header.Set("Sec-Fetch-Site", "same-site")
			}),
			Entry("an Origin of another site", http.MethodPost, func(r *http.Request) {
				withXSRF(r)
				r.Header.Set("Origin", "https://evil.example")
			}),
		)

		It("lets the UI's own changing call through and logs it with who made it", func() {
			rec := serve(http.MethodPost, "/monitor/api/queues/q:pause", func(r *http.Request) {
				withXSRF(r)
				r.Header.Set("Sec-Fetch-Site", "same-origin")
				r.Header.Set("Origin", "http://127.0.0.1:9480")
			})
			Expect(rec.Code).To(Equal(http.StatusNoContent))
			Expect(called).To(Equal(1))
			Expect(logs.entries("monitor action")).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("user", "anonymous"), HaveKeyWithValue("method", "POST"),
				HaveKeyWithValue("path", "/monitor/api/queues/q:pause"), HaveKeyWithValue("status", 204.0),
			)))
		})

		It("does not check Host", func() {
			Expect(serve(http.MethodGet, "/monitor/", func(r *http.Request) { r.Host = "monitor.internal:9480" }).Code).To(Equal(http.StatusNoContent))
		})
	})

	Context("with authentication off", func() {
		BeforeEach(func() {
			guard.CheckHost = true
			build()
		})

		It("answers a request for another Host 421 (a DNS-rebinding page)", func() {
			rec := serve(http.MethodGet, "/monitor/", func(r *http.Request) { r.Host = "attacker.example:9480" })
			Expect(rec.Code).To(Equal(http.StatusMisdirectedRequest))
			Expect(called).To(BeZero())
			Expect(logs.entries("monitor refused a request for another host")).To(HaveLen(1))
		})

		It("serves its own address and the loopback names with its port", func() {
			for _, host := range []string{"127.0.0.1:9480", "localhost:9480", "[::1]:9480"} {
				Expect(serve(http.MethodGet, "/monitor/", func(r *http.Request) { r.Host = host }).Code).To(Equal(http.StatusNoContent), host)
			}
			Expect(serve(http.MethodGet, "/monitor/", func(r *http.Request) { r.Host = "localhost:9999" }).Code).To(Equal(http.StatusMisdirectedRequest))
		})
	})
})

var _ = Describe("InlineScriptHashes", func() {
	It("hashes each inline script of asynqmon's real index page", func() {
		mon := asynqmon.New(asynqmon.Options{
			RootPath:     "/monitor",
			RedisConnOpt: asynq.RedisClientOpt{Addr: dbtest.RedisAddr(), DB: dbtest.RedisDBTasks + GinkgoParallelProcess() - 1},
			ReadOnly:     true,
		})
		DeferCleanup(mon.Close)
		hashes, err := monitor.InlineScriptHashes(mon, "/monitor/")
		Expect(err).NotTo(HaveOccurred())

		rec := httptest.NewRecorder()
		mon.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/monitor/", nil))
		scripts := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(rec.Body.String(), -1)
		Expect(scripts).To(HaveLen(2), "asynqmon's page has two inline scripts")
		want := make([]string, len(scripts))
		for i, s := range scripts {
			sum := sha256.Sum256([]byte(s[1]))
			want[i] = "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		}
		Expect(hashes).To(Equal(want))
	})
})

var _ = Describe("Auth's login throttle", func() {
	const password = "a-monitor-password-0123456789"
	var (
		logs   *logBuffer
		prefix string
		h      http.Handler
	)

	BeforeEach(func() {
		logs = &logBuffer{}
		prefix = "monitor-test:" + randomHex(6) + ":"
		DeferCleanup(func(ctx context.Context) {
			keys, err := rdb.Keys(ctx, prefix+"*").Result()
			Expect(err).NotTo(HaveOccurred())
			if len(keys) > 0 {
				Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
			}
		})
		log := slog.New(semanticlogger.NewHandler(logs, nil))
		guarded := monitor.Guard{Root: "/monitor", Addr: "127.0.0.1:9480", Logger: log}.Wrap(
			http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("monitor")) }))
		var err error
		h, err = monitor.Auth{
			Username: "ops", Password: password, Logger: log,
			Throttle: &monitor.LoginThrottle{Redis: rdb, KeyPrefix: prefix, FailuresPerMinute: 3},
		}.Wrap(guarded)
		Expect(err).NotTo(HaveOccurred())
	})

	login := func(method, from, user, pass string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/monitor/api/queues/q:pause", nil)
		req.RemoteAddr = from + ":40000"
		req.SetBasicAuth(user, pass)
		req.AddCookie(&http.Cookie{Name: "XSRF-TOKEN", Value: xsrf})
		req.Header.Set("X-XSRF-TOKEN", xsrf)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	It("logs each failed login and, past the limit, answers that address 429 even with the right password", func() {
		for range 3 {
			Expect(login(http.MethodGet, "192.0.2.7", "ops", "guess").Code).To(Equal(http.StatusUnauthorized))
		}
		Expect(logs.entries("monitor login failed")).To(HaveLen(3))
		Expect(logs.entries("monitor login failed")[0]).To(SatisfyAll(
			HaveKeyWithValue("remote_addr", "192.0.2.7"), HaveKeyWithValue("user_known", true), HaveKeyWithValue("scheme", "basic")))
		Expect(logs.buf.String()).NotTo(ContainSubstring("guess"), "a tried password is never logged")

		rec := login(http.MethodGet, "192.0.2.7", "ops", password)
		Expect(rec.Code).To(Equal(http.StatusTooManyRequests))
		Expect(rec.Header().Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
		Expect(logs.entries("monitor login throttled")).To(HaveLen(1))

		Expect(login(http.MethodGet, "192.0.2.8", "ops", password).Code).To(Equal(http.StatusOK), "another address is not throttled")
	})

	It("logs a changing call with the user who made it", func() {
		Expect(login(http.MethodPost, "192.0.2.9", "ops", password).Code).To(Equal(http.StatusOK))
		Expect(logs.entries("monitor action")).To(ConsistOf(SatisfyAll(
			HaveKeyWithValue("user", "ops"), HaveKeyWithValue("method", "POST"), HaveKeyWithValue("remote_addr", "192.0.2.9"))))
	})
})
