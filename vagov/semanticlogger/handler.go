// Package semanticlogger writes log lines in the envelope VA.gov's API logs
// in: rails_semantic_logger's JSON, one object a line, as semantic_logger's
// Json formatter (lib/semantic_logger/formatters/raw.rb and json.rb) builds
// it. Datadog's facets and VA.gov's log monitors were built on that envelope
// (@message, @payload.response_status, ...), so the worker's lines wear it
// too: a slog.Handler, so that every logger of the process (the worker's
// own, asynq's through its adapter, go-redis's) writes the same envelope.
//
// A line's keys, in the formatter's order (those it omits when empty are
// omitted here too):
//
//	host, application, environment   the process's, from Options
//	timestamp    the record's time, UTC, ISO 8601 with microseconds
//	             ("2026-03-02T10:15:00.123456Z"), as Time#iso8601(6)
//	level        trace, debug, info, warn, error or fatal (lower case)
//	level_index  0 to 5, semantic_logger's index of that level
//	pid          the process id
//	file, line   where an error or fatal line was logged (semantic_logger
//	             captures a backtrace from its backtrace_level, :error)
//	duration_ms, duration  a top-level "duration" attr holding a
//	             time.Duration, in milliseconds and in semantic_logger's
//	             human form ("1.500s", "2m 5s")
//	name         the logger: a top-level "component" attr, else Options.Name
//	message      the record's message, trimmed and without ANSI colours
//	payload      every other attr, the logger's (With) and the call's, in
//	             order; groups (slog.Group, WithGroup) nest under it
//	exception    a top-level "error" attr: {name, message, cause: {...}},
//	             the error's type and text, then what it wraps, five deep
//
// Not written: thread (a goroutine has no name to give), tags and
// named_tags (the worker has no tagged context: what rails_semantic_logger's
// Sidekiq job logger tags a job's lines with, the worker's task middleware
// puts in payload as task_id, task_type, queue and retry), metric.
//
// Values in payload are rendered as vets-api's to_json renders Ruby's
// (ActiveSupport's JSON encoding): a time.Time as ISO 8601 with
// milliseconds ("2026-03-02T10:15:00.000Z", ActiveSupport's time_precision
// 3), a non-finite float as null; and the rest as slog's JSON handler does:
// an error as its text, a json.Marshaler or any other value as
// encoding/json marshals it (HTML left unescaped), a time.Duration as
// seconds (a float; ActiveSupport::Duration gives whole seconds).
package semanticlogger

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
)

// Keys of a top-level attr that fill the envelope instead of the payload.
const (
	// NameKey names the logger (semantic_logger's name): slog has no logger
	// names, so logger.With("component", "asynq") gives one.
	NameKey = "component"
	// ErrorKey holds the error of a line: it becomes the exception.
	ErrorKey = "error"
	// DurationKey, when a time.Duration, is the line's duration.
	DurationKey = "duration"
)

// DefaultName is the logger name of lines without a component.
const DefaultName = "lighthouse526"

// Options are the envelope's constant parts.
type Options struct {
	// Level is the lowest level written (slog.LevelInfo when nil).
	Level slog.Leveler
	// Name is the logger name of lines that set no component (DefaultName
	// when empty).
	Name string
	// Application and Environment are semantic_logger's application and
	// environment; each is left out when empty.
	Application string
	Environment string
	// Host is the host name; os.Hostname when empty, left out if that fails.
	Host string
}

// Handler is a slog.Handler writing one semantic_logger JSON object a line.
// It is safe for concurrent use; handlers derived with WithAttrs and
// WithGroup share its writer and its lock, so lines never interleave.
type Handler struct {
	out   *output
	env   *envelope
	name  string      // the logger's name: env.name, or a With'd component
	err   *slog.Value // a With'd error: every line's exception
	group []string    // the groups opened by WithGroup, outermost first
	// pre[d] are the With'd attrs at group depth d, rendered as object
	// members ("k":v,"k2":v2); len(pre) == len(group)+1.
	pre [][]byte
}

type output struct {
	mu sync.Mutex
	w  io.Writer
}

// envelope holds the constant members, rendered once.
type envelope struct {
	level slog.Leveler
	head  []byte // "host":..,"application":..,"environment":.., (each if set)
	pid   []byte // "pid":N
}

// NewHandler returns a handler writing to w.
func NewHandler(w io.Writer, opts *Options) *Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Level == nil {
		o.Level = slog.LevelInfo
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Host == "" {
		o.Host, _ = os.Hostname()
	}
	env := &envelope{level: o.Level}
	for _, m := range []struct{ key, val string }{{"host", o.Host}, {"application", o.Application}, {"environment", o.Environment}} {
		if m.val != "" {
			env.head = appendKey(env.head, m.key)
			env.head = appendString(env.head, m.val)
			env.head = append(env.head, ',')
		}
	}
	env.pid = strconv.AppendInt(appendKey(nil, "pid"), int64(os.Getpid()), 10)
	return &Handler{out: &output{w: w}, env: env, name: o.Name, pre: make([][]byte, 1)}
}

// Enabled reports whether level is at least Options.Level.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.env.level.Level()
}

// WithAttrs returns a handler whose lines carry attrs: in the payload, at
// the current group, except a top-level component (the name) and error (the
// exception).
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	c := h.clone()
	depth := len(c.group)
	buf := slices.Clip(c.pre[depth])
	for _, a := range attrs {
		a.Value = a.Value.Resolve()
		if depth == 0 {
			if name, ok := nameOf(a); ok {
				c.name = name
				continue
			}
			if a.Key == ErrorKey {
				v := a.Value
				c.err = &v
				continue
			}
		}
		buf = appendMember(buf, a)
	}
	c.pre[depth] = buf
	return c
}

// WithGroup returns a handler that nests the attrs added after it (With's
// and the call's) under name in the payload. An empty group is left out.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := h.clone()
	c.group = append(slices.Clip(c.group), name)
	c.pre = append(c.pre, nil)
	return c
}

func (h *Handler) clone() *Handler {
	c := *h
	c.group = slices.Clip(h.group)
	c.pre = slices.Clone(h.pre)
	return &c
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Handle writes r as one line.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	bp := bufPool.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 {
			*bp = (*bp)[:0]
			bufPool.Put(bp)
		}
	}()

	// The call's attrs: the envelope's own first, the rest for the payload.
	name, errVal := h.name, h.err
	var duration *slog.Value
	calls := bufPool.Get().(*[]byte)
	defer func() { *calls = (*calls)[:0]; bufPool.Put(calls) }()
	topLevel := len(h.group) == 0
	r.Attrs(func(a slog.Attr) bool {
		a.Value = a.Value.Resolve()
		if topLevel {
			if n, ok := nameOf(a); ok {
				name = n
				return true
			}
			switch {
			case a.Key == ErrorKey:
				v := a.Value
				errVal = &v
				return true
			case a.Key == DurationKey && a.Value.Kind() == slog.KindDuration:
				v := a.Value
				duration = &v
				return true
			}
		}
		*calls = appendMember(*calls, a)
		return true
	})

	b := append(*bp, '{')
	b = append(b, h.env.head...)
	if !r.Time.IsZero() {
		b = appendKey(b, "timestamp")
		b = append(b, '"')
		b = r.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z")
		b = append(b, '"', ',')
	}
	lv := levelOf(r.Level)
	b = appendKey(b, "level")
	b = appendString(b, lv.name)
	b = append(b, ',')
	b = appendKey(b, "level_index")
	b = strconv.AppendInt(b, int64(lv.index), 10)
	b = append(b, ',')
	b = append(b, h.env.pid...)
	if lv.index >= levelError.index && r.PC != 0 {
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		if f.File != "" {
			b = append(b, ',')
			b = appendKey(b, "file")
			b = appendString(b, f.File)
			b = append(b, ',')
			b = appendKey(b, "line")
			b = strconv.AppendInt(b, int64(f.Line), 10)
		}
	}
	if duration != nil {
		b = appendDuration(b, duration.Duration())
	}
	b = append(b, ',')
	b = appendKey(b, "name")
	b = appendString(b, name)
	b = append(b, ',')
	b = appendKey(b, "message")
	b = appendString(b, cleansedMessage(r.Message))
	b = h.appendPayload(b, *calls)
	if errVal != nil {
		b = append(b, ',')
		b = appendKey(b, "exception")
		b = appendException(b, *errVal)
	}
	b = append(b, '}', '\n')
	*bp = b

	h.out.mu.Lock()
	defer h.out.mu.Unlock()
	_, err := h.out.w.Write(b)
	return err
}

// appendPayload appends ,"payload":{...} when there is anything in it: the
// With'd attrs of each depth, each group holding the deeper ones, the call's
// attrs innermost. A group with nothing in it is left out.
func (h *Handler) appendPayload(b, calls []byte) []byte {
	inner := calls
	for d := len(h.group); d >= 0; d-- {
		var level []byte
		if d < len(h.group) && len(inner) > 0 {
			level = appendKey(level, h.group[d])
			level = append(level, '{')
			level = append(level, inner...)
			level = append(level, '}')
		} else if d == len(h.group) {
			level = inner
		}
		inner = joinMembers(h.pre[d], level)
	}
	if len(inner) == 0 {
		return b
	}
	b = append(b, ',')
	b = appendKey(b, "payload")
	b = append(b, '{')
	b = append(b, inner...)
	return append(b, '}')
}

// joinMembers is a then b, comma-separated, either possibly empty.
func joinMembers(a, b []byte) []byte {
	switch {
	case len(a) == 0:
		return b
	case len(b) == 0:
		return a
	}
	out := make([]byte, 0, len(a)+1+len(b))
	out = append(out, a...)
	out = append(out, ',')
	return append(out, b...)
}

// nameOf reports whether a names the logger (a string component).
func nameOf(a slog.Attr) (string, bool) {
	if a.Key != NameKey || a.Value.Kind() != slog.KindString || a.Value.String() == "" {
		return "", false
	}
	return a.Value.String(), true
}
