package semanticlogger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"testing/slogtest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/vagov/semanticlogger"
)

// at is the time of the records the specs make by hand: 10:15 in New York,
// with microseconds and a few nanoseconds more.
var at = time.Date(2026, 3, 2, 5, 15, 0, 123456789, time.FixedZone("EST", -5*3600))

// apiError is an error type of the specs, as lighthouse.APIError is one.
type apiError struct{ status int }

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

// redacted is a LogValuer.
type redacted string

func (redacted) LogValue() slog.Value { return slog.StringValue("[redacted]") }

var _ = Describe("Handler", func() {
	var (
		buf    *bytes.Buffer
		opts   *semanticlogger.Options
		logger *slog.Logger
	)

	BeforeEach(func() {
		buf = &bytes.Buffer{}
		opts = &semanticlogger.Options{Host: "pod-1", Application: "lighthouse526-worker", Environment: "production", Level: semanticlogger.LevelTrace}
	})
	JustBeforeEach(func() {
		logger = slog.New(semanticlogger.NewHandler(buf, opts))
	})

	// handle writes one record made by hand (time, level, message, attrs).
	handle := func(t time.Time, level slog.Level, msg string, attrs ...slog.Attr) map[string]any {
		r := slog.NewRecord(t, level, msg, 0)
		r.AddAttrs(attrs...)
		Expect(logger.Handler().Handle(context.Background(), r)).To(Succeed())
		got := lines(buf)
		Expect(got).To(HaveLen(1))
		return got[0]
	}

	Describe("the envelope", func() {
		It("writes semantic_logger's keys in its formatter's order", func() {
			logger.Warn("Lighthouse::Form526DocumentUploadPollingJob status endpoint error", "response_status", 404)

			Expect(keysOf(buf.Bytes())).To(Equal([]string{
				"host", "application", "environment", "timestamp", "level", "level_index", "pid", "name", "message", "payload",
			}))
			line := lines(buf)[0]
			Expect(line).To(HaveKeyWithValue("host", "pod-1"))
			Expect(line).To(HaveKeyWithValue("application", "lighthouse526-worker"))
			Expect(line).To(HaveKeyWithValue("environment", "production"))
			Expect(line).To(HaveKeyWithValue("pid", BeNumerically("==", os.Getpid())))
			Expect(line).To(HaveKeyWithValue("name", semanticlogger.DefaultName))
			Expect(line).To(HaveKeyWithValue("message", "Lighthouse::Form526DocumentUploadPollingJob status endpoint error"))
			Expect(line).To(HaveKeyWithValue("payload", Equal(map[string]any{"response_status": 404.0})))
		})

		It("ends every line with a newline, one object a line", func() {
			logger.Info("one")
			logger.Info("two", "k", "line\nbreak")

			Expect(strings.Count(buf.String(), "\n")).To(Equal(2))
			Expect(lines(buf)).To(HaveLen(2))
		})

		It("leaves out application and environment when they are empty, and payload when nothing is in it", func() {
			opts.Application, opts.Environment = "", ""
			logger = slog.New(semanticlogger.NewHandler(buf, opts))
			logger.Info("nothing else")

			Expect(keysOf(buf.Bytes())).To(Equal([]string{"host", "timestamp", "level", "level_index", "pid", "name", "message"}))
		})

		It("finds the host name itself when none is given", func() {
			opts.Host = ""
			logger = slog.New(semanticlogger.NewHandler(buf, opts))
			logger.Info("x")

			host, err := os.Hostname()
			Expect(err).NotTo(HaveOccurred())
			Expect(lines(buf)[0]).To(HaveKeyWithValue("host", host))
		})

		It("writes the time in UTC, ISO 8601 with microseconds, as Time#iso8601(6)", func() {
			line := handle(at, slog.LevelInfo, "x")

			Expect(line).To(HaveKeyWithValue("timestamp", "2026-03-02T10:15:00.123456Z"))
		})

		It("leaves out the time of a record without one, as slog asks", func() {
			line := handle(time.Time{}, slog.LevelInfo, "x")

			Expect(line).NotTo(HaveKey("timestamp"))
		})

		It("writes the message as cleansed_message does: no ANSI colours, no surrounding whitespace", func() {
			line := handle(at, slog.LevelInfo, "  \x1b[1m\x1b[31mred\x1b[0m and \x1bplain \n")

			Expect(line).To(HaveKeyWithValue("message", "red and plain"))
		})

		It("names the logger by a component, the logger's or the call's", func() {
			logger.With("component", "asynq").Info("from asynq")
			logger.Info("from the API", "component", "api")
			logger.Info("without")
			opts.Name = "Rails"
			slog.New(semanticlogger.NewHandler(buf, opts)).Info("named")

			names := []any{}
			for _, l := range lines(buf) {
				names = append(names, l["name"])
				Expect(l).NotTo(HaveKey("payload"))
			}
			Expect(names).To(Equal([]any{"asynq", "api", semanticlogger.DefaultName, "Rails"}))
		})

		It("writes where an error or fatal line was logged, as semantic_logger does from :error", func() {
			logger.Warn("warned")
			logger.Error("failed")

			got := lines(buf)
			Expect(got[0]).NotTo(HaveKey("file"))
			Expect(got[1]).To(HaveKeyWithValue("file", HaveSuffix("vagov/semanticlogger/handler_test.go")))
			Expect(got[1]).To(HaveKeyWithValue("line", BeNumerically(">", 0)))
		})
	})

	Describe("levels", func() {
		DescribeTable("writes semantic_logger's name and index of each level",
			func(level slog.Level, name string, index int) {
				line := handle(at, level, "x")

				Expect(line).To(HaveKeyWithValue("level", name))
				Expect(line).To(HaveKeyWithValue("level_index", BeNumerically("==", index)))
			},
			Entry("trace", semanticlogger.LevelTrace, "trace", 0),
			Entry("debug", slog.LevelDebug, "debug", 1),
			Entry("info", slog.LevelInfo, "info", 2),
			Entry("warn", slog.LevelWarn, "warn", 3),
			Entry("a level between warn and error", slog.LevelWarn+2, "warn", 3),
			Entry("error", slog.LevelError, "error", 4),
			Entry("fatal", semanticlogger.LevelFatal, "fatal", 5),
			Entry("above fatal", semanticlogger.LevelFatal+4, "fatal", 5),
		)

		It("writes nothing below the level it was given", func() {
			opts.Level = slog.LevelWarn
			logger = slog.New(semanticlogger.NewHandler(buf, opts))
			logger.Info("not written")
			logger.Debug("not written")
			logger.Warn("written")

			Expect(lines(buf)).To(ConsistOf(HaveKeyWithValue("message", "written")))
		})

		It("writes from info when given no level", func() {
			logger = slog.New(semanticlogger.NewHandler(buf, nil))
			logger.Debug("not written")
			logger.Info("written")

			Expect(lines(buf)).To(ConsistOf(HaveKeyWithValue("message", "written")))
		})

		It("names the two added levels in slog's own handlers", func() {
			h := slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: semanticlogger.LevelTrace, ReplaceAttr: semanticlogger.SlogLevelNames})
			l := slog.New(h)
			l.Log(context.Background(), semanticlogger.LevelTrace, "t")
			l.Log(context.Background(), semanticlogger.LevelFatal, "f")
			l.Warn("w", slog.Group("g", "level", "kept"))

			got := lines(buf)
			Expect(got).To(HaveLen(3))
			Expect(got[0]).To(HaveKeyWithValue("level", "TRACE"))
			Expect(got[1]).To(HaveKeyWithValue("level", "FATAL"))
			Expect(got[2]).To(HaveKeyWithValue("level", "WARN"))
			Expect(got[2]).To(HaveKeyWithValue("g", HaveKeyWithValue("level", "kept")))
		})
	})

	Describe("the payload", func() {
		It("renders attrs of every kind", func() {
			type doc struct {
				RequestID int    `json:"requestId"`
				Status    string `json:"status"`
			}
			var nilMap map[string]int
			line := handle(at, slog.LevelInfo, "x",
				slog.String("string", "a \"quoted\" / <tag> & é"),
				slog.Int("int", -42),
				slog.Uint64("uint", math.MaxUint64),
				slog.Float64("float", 0.25),
				slog.Float64("tiny", 1e-7),
				slog.Float64("nan", math.NaN()),
				slog.Float64("inf", math.Inf(1)),
				slog.Bool("bool", true),
				slog.Duration("wait", 1500*time.Millisecond),
				slog.Time("updated_at", at),
				slog.Time("utc", at.UTC()),
				slog.Any("status_response", json.RawMessage(`{"requestId": 22, "status":"SUCCESS"}`)),
				slog.Any("ids", []string{"22", "16819"}),
				slog.Any("struct", doc{RequestID: 22, Status: "FAILED"}),
				slog.Any("nil_map", nilMap),
				slog.Any("nil", nil),
				slog.Any("wrapped_error", fmt.Errorf("poll: %w", &apiError{404})),
				slog.Any("secret", redacted("rsa key")),
				slog.Any("channel", make(chan int)),
			)

			p := line["payload"].(map[string]any)
			Expect(p).To(HaveKeyWithValue("string", `a "quoted" / <tag> & é`))
			Expect(p).To(HaveKeyWithValue("int", -42.0))
			Expect(p).To(HaveKeyWithValue("uint", float64(math.MaxUint64)))
			Expect(p).To(HaveKeyWithValue("float", 0.25))
			Expect(p).To(HaveKeyWithValue("tiny", 1e-7))
			Expect(p).To(HaveKeyWithValue("nan", BeNil()))
			Expect(p).To(HaveKeyWithValue("inf", BeNil()))
			Expect(p).To(HaveKeyWithValue("bool", true))
			Expect(p).To(HaveKeyWithValue("wait", 1.5))
			Expect(p).To(HaveKeyWithValue("updated_at", "2026-03-02T05:15:00.123-05:00"))
			Expect(p).To(HaveKeyWithValue("utc", "2026-03-02T10:15:00.123Z"))
			Expect(p).To(HaveKeyWithValue("status_response", Equal(map[string]any{"requestId": 22.0, "status": "SUCCESS"})))
			Expect(p).To(HaveKeyWithValue("ids", Equal([]any{"22", "16819"})))
			Expect(p).To(HaveKeyWithValue("struct", Equal(map[string]any{"requestId": 22.0, "status": "FAILED"})))
			Expect(p).To(HaveKeyWithValue("nil_map", BeNil()))
			Expect(p).To(HaveKeyWithValue("nil", BeNil()))
			Expect(p).To(HaveKeyWithValue("wrapped_error", "poll: HTTP 404"))
			Expect(p).To(HaveKeyWithValue("secret", "[redacted]"))
			Expect(p).To(HaveKeyWithValue("channel", HavePrefix("!ERROR:")))
			Expect(keysOf(mustMarshal(p))).To(HaveLen(19))
		})

		It("keeps the attrs in the order they were given, the logger's first", func() {
			logger.With("task_type", "form526:document_upload_status_batch", "task_id", "t1").
				Warn("x", "response_status", 404, "response_body", "b")

			raw := rawPayload(buf.Bytes())
			Expect(keysOf(raw)).To(Equal([]string{"task_type", "task_id", "response_status", "response_body"}))
		})

		It("escapes as Ruby's JSON generator: quotes, backslashes and control characters; invalid UTF-8 replaced", func() {
			handle(at, slog.LevelInfo, "x", slog.String("s", "a\\b\"c\td\ne\rf\bg\fh\x01i\x7fj</k>\u2028l\xffm"))

			Expect(buf.String()).To(ContainSubstring(`"s":"a\\b\"c\td\ne\rf\bg\fh\u0001i` + "\x7f" + `j</k>` + "\u2028" + `l\ufffdm"`))
			Expect(lines(buf)[0]["payload"]).To(HaveKeyWithValue("s", "a\\b\"c\td\ne\rf\bg\fh\x01i\x7fj</k>\u2028l\ufffdm"))
		})

		It("escapes keys too", func() {
			handle(at, slog.LevelInfo, "x", slog.Int("a\"b", 1))

			Expect(lines(buf)[0]["payload"]).To(HaveKeyWithValue("a\"b", 1.0))
		})
	})

	Describe("groups", func() {
		It("nests a group attr under its key in the payload", func() {
			logger.Info("x", slog.Group("request", "ids", []string{"1"}, slog.Group("inner", "n", 2)))

			Expect(lines(buf)[0]["payload"]).To(Equal(map[string]any{
				"request": map[string]any{"ids": []any{"1"}, "inner": map[string]any{"n": 2.0}},
			}))
		})

		It("nests the logger's attrs and the call's under the groups opened before them", func() {
			logger.With("task_id", "t1").WithGroup("cycle").With("id", "c1").WithGroup("batch").
				Info("x", "seq", 3)

			Expect(lines(buf)[0]["payload"]).To(Equal(map[string]any{
				"task_id": "t1",
				"cycle":   map[string]any{"id": "c1", "batch": map[string]any{"seq": 3.0}},
			}))
		})

		It("leaves out groups with nothing in them, and inlines a group without a key", func() {
			logger.WithGroup("empty").Info("x")
			logger.With("a", 1).WithGroup("empty").Info("y")
			logger.Info("z", slog.Group("none"), slog.Group("", "inlined", true), slog.Attr{})

			got := lines(buf)
			Expect(got[0]).NotTo(HaveKey("payload"))
			Expect(got[1]["payload"]).To(Equal(map[string]any{"a": 1.0}))
			Expect(got[2]["payload"]).To(Equal(map[string]any{"inlined": true}))
		})

		It("takes component, error and duration from the top level only", func() {
			logger.WithGroup("g").Info("x", "component", "c", "error", errors.New("e"), "duration", time.Second)

			line := lines(buf)[0]
			Expect(line).To(HaveKeyWithValue("name", semanticlogger.DefaultName))
			Expect(line).NotTo(HaveKey("exception"))
			Expect(line).NotTo(HaveKey("duration"))
			Expect(line["payload"]).To(Equal(map[string]any{"g": map[string]any{"component": "c", "error": "e", "duration": 1.0}}))
		})

		It("does not share attrs between handlers derived from one", func() {
			base := logger.With("shared", 1)
			a := base.With("a", 1)
			b := base.With("b", 2)
			a.Info("a")
			b.Info("b")
			base.Info("base")

			got := lines(buf)
			Expect(got[0]["payload"]).To(Equal(map[string]any{"shared": 1.0, "a": 1.0}))
			Expect(got[1]["payload"]).To(Equal(map[string]any{"shared": 1.0, "b": 2.0}))
			Expect(got[2]["payload"]).To(Equal(map[string]any{"shared": 1.0}))
		})
	})

	Describe("errors", func() {
		It("puts an error where semantic_logger puts an exception: its type and text, then what it wraps", func() {
			err := fmt.Errorf("poll batch of 2: %w", &apiError{503})
			logger.Warn("failed", "error", err, "reason", "http_503")

			line := lines(buf)[0]
			Expect(keysOf(buf.Bytes())).To(HaveExactElements("host", "application", "environment", "timestamp", "level", "level_index", "pid", "name", "message", "payload", "exception"))
			Expect(line["payload"]).To(Equal(map[string]any{"reason": "http_503"}))
			Expect(line["exception"]).To(Equal(map[string]any{
				"name":    "fmt.wrapError",
				"message": "poll batch of 2: HTTP 503",
				"cause":   map[string]any{"name": "semanticlogger_test.apiError", "message": "HTTP 503"},
			}))
		})

		It("unwraps five errors at most, as MAX_EXCEPTIONS_TO_UNWRAP", func() {
			var err error = &apiError{500}
			for i := range 7 {
				err = fmt.Errorf("layer %d: %w", i, err)
			}
			logger.Error("deep", "error", err)

			exc := lines(buf)[0]["exception"].(map[string]any)
			depth := 1
			for exc["cause"] != nil {
				exc = exc["cause"].(map[string]any)
				depth++
			}
			Expect(depth).To(Equal(5))
			Expect(exc["message"]).To(HavePrefix("layer 2: "))
		})

		It("takes an error's text logged as a string as the exception's message", func() {
			logger.With("error", "set on the logger").Warn("x")
			logger.Warn("y", "error", "dial tcp: connection refused")

			got := lines(buf)
			Expect(got[0]["exception"]).To(Equal(map[string]any{"name": "error", "message": "set on the logger"}))
			Expect(got[1]["exception"]).To(Equal(map[string]any{"name": "error", "message": "dial tcp: connection refused"}))
			Expect(got[1]).NotTo(HaveKey("payload"))
		})

		It("gives a value error its own type name", func() {
			logger.Warn("x", "error", context.DeadlineExceeded)

			Expect(lines(buf)[0]["exception"]).To(Equal(map[string]any{"name": "context.deadlineExceededError", "message": "context deadline exceeded"}))
		})
	})

	Describe("a duration", func() {
		DescribeTable("is written as duration_ms and in semantic_logger's human form",
			func(d time.Duration, ms float64, human string) {
				logger.Info("measured", "duration", d)

				line := lines(buf)[0]
				Expect(line).To(HaveKeyWithValue("duration_ms", BeNumerically("~", ms, 1e-9)))
				Expect(line).To(HaveKeyWithValue("duration", human))
				Expect(line).NotTo(HaveKey("payload"))
				Expect(keysOf(buf.Bytes())).To(HaveExactElements("host", "application", "environment", "timestamp", "level", "level_index", "pid", "duration_ms", "duration", "name", "message"))
			},
			Entry("under 10 ms", 1250*time.Microsecond, 1.25, "1.250ms"),
			Entry("under a second", 12345*time.Microsecond, 12.345, "12.3ms"),
			Entry("seconds", 5250*time.Millisecond, 5250.0, "5.250s"),
			Entry("minutes", 125*time.Second, 125000.0, "2m 5s"),
			Entry("hours", 3*time.Hour+4*time.Minute+5*time.Second, 11045000.0, "3h 4m"),
			Entry("days", 50*time.Hour+4*time.Minute, 180240000.0, "2d 2h 4m"),
		)

		It("stays in the payload when it is not a time.Duration", func() {
			logger.Info("x", "duration", "long")

			Expect(lines(buf)[0]["payload"]).To(Equal(map[string]any{"duration": "long"}))
		})
	})

	It("writes whole lines from many goroutines at once, each with its own attrs", func() {
		const goroutines, each = 16, 200
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := logger.With("goroutine", g).WithGroup("g")
				for i := range each {
					l.Warn("concurrent", "i", i, "error", errors.New("e"))
				}
			}()
		}
		wg.Wait()

		got := lines(buf)
		Expect(got).To(HaveLen(goroutines * each))
		seen := map[[2]float64]bool{}
		for _, l := range got {
			p := l["payload"].(map[string]any)
			seen[[2]float64{p["goroutine"].(float64), p["g"].(map[string]any)["i"].(float64)}] = true
		}
		Expect(seen).To(HaveLen(goroutines * each))
	})

	It("passes slog's own handler conformance test", func() {
		h := semanticlogger.NewHandler(buf, &semanticlogger.Options{Level: slog.LevelInfo})
		// slogtest reads slog's keys at the top level: the envelope's time,
		// level and message under them, and the payload's members beside.
		results := func() []map[string]any {
			var out []map[string]any
			for _, l := range lines(buf) {
				m := map[string]any{}
				if p, ok := l["payload"].(map[string]any); ok {
					for k, v := range p {
						m[k] = v
					}
				}
				for from, to := range map[string]string{"timestamp": slog.TimeKey, "level": slog.LevelKey, "message": slog.MessageKey} {
					if v, ok := l[from]; ok {
						m[to] = v
					}
				}
				out = append(out, m)
			}
			return out
		}
		Expect(slogtest.TestHandler(h, results)).To(Succeed())
	})
})

// rawPayload is the payload object of a line as written.
func rawPayload(line []byte) []byte {
	var l struct {
		Payload json.RawMessage `json:"payload"`
	}
	Expect(json.Unmarshal(line, &l)).To(Succeed())
	return l.Payload
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return b
}
