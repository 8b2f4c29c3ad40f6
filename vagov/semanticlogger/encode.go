package semanticlogger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// payloadTime is how vets-api's to_json writes a Time in a payload
// (ActiveSupport's JSON time_precision, 3): "2026-03-02T10:15:00.000Z".
const payloadTime = "2006-01-02T15:04:05.000Z07:00"

// appendMember appends a as a member of a JSON object ("key":value), after
// a comma when b already holds members. The empty attr is left out, a group
// without members too, and a group without a key is inlined (slog's rules).
func appendMember(b []byte, a slog.Attr) []byte {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return b
	}
	if a.Value.Kind() == slog.KindGroup {
		var inner []byte
		for _, m := range a.Value.Group() {
			inner = appendMember(inner, m)
		}
		if len(inner) == 0 {
			return b
		}
		if a.Key == "" {
			return joinMembers(b, inner)
		}
		if len(b) > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, a.Key)
		b = append(b, '{')
		b = append(b, inner...)
		return append(b, '}')
	}
	if len(b) > 0 {
		b = append(b, ',')
	}
	b = appendKey(b, a.Key)
	return appendValue(b, a.Value)
}

// appendValue appends v as JSON: see the package comment for each kind.
func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return appendFloat(b, v.Float64())
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return appendFloat(b, v.Duration().Seconds())
	case slog.KindTime:
		b = append(b, '"')
		b = v.Time().AppendFormat(b, payloadTime)
		return append(b, '"')
	default: // slog.KindAny; groups and LogValuers are resolved before
		a := v.Any()
		if err, ok := a.(error); ok {
			if _, marshals := a.(json.Marshaler); !marshals {
				return appendString(b, err.Error())
			}
		}
		return appendJSON(b, a)
	}
}

// appendJSON appends a as encoding/json marshals it, HTML unescaped; a value
// it cannot marshal is written as a string saying why.
func appendJSON(b []byte, a any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return appendString(b, "!ERROR:"+err.Error())
	}
	return append(b, bytes.TrimRight(buf.Bytes(), "\n")...)
}

// appendFloat appends f as a JSON number, or null when it is not finite (as
// ActiveSupport writes NaN and Infinity): exponent form only when very large
// or small, as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07, not 1e-07's zero: "1e-7".
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendKey appends "key":.
func appendKey(b []byte, key string) []byte {
	b = appendString(b, key)
	return append(b, ':')
}

// appendString appends s as a JSON string, escaped as Ruby's JSON generator
// escapes (quote, backslash and control characters; "/", HTML and
// non-ASCII characters as they are); invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigit(c>>4), hexDigit(c&0xf))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func hexDigit(n byte) byte { return "0123456789abcdef"[n] }

// ansi matches what semantic_logger's cleansed_message strips: Rails's
// colour codes and stray escapes.
var ansi = regexp.MustCompile(`\x1b\[[\d;]*[mz]?|\x1b`)

// cleansedMessage is the message as semantic_logger writes it to JSON
// (Log#cleansed_message): without ANSI colours, stripped of surrounding
// whitespace.
func cleansedMessage(msg string) string {
	if strings.IndexByte(msg, 0x1b) >= 0 {
		msg = ansi.ReplaceAllString(msg, "")
	}
	return strings.Trim(msg, " \t\n\v\f\r\x00")
}

// maxExceptions is how many errors of a chain the exception holds, as
// semantic_logger's MAX_EXCEPTIONS_TO_UNWRAP.
const maxExceptions = 5

// appendException appends the exception object of an error attr: an error's
// type name and text, then what it wraps under cause (as semantic_logger
// nests an exception's causes). Another value (an error's text logged as a
// string) gives name "error" and its text.
func appendException(b []byte, v slog.Value) []byte {
	err, ok := v.Any().(error)
	if v.Kind() != slog.KindAny || !ok || err == nil {
		b = append(b, '{')
		b = appendKey(b, "name")
		b = appendString(b, "error")
		b = append(b, ',')
		b = appendKey(b, "message")
		b = appendString(b, v.String())
		return append(b, '}')
	}
	depth := 0
	for ; err != nil && depth < maxExceptions; depth++ {
		if depth > 0 {
			b = append(b, ',')
			b = appendKey(b, "cause")
		}
		b = append(b, '{')
		b = appendKey(b, "name")
		b = appendString(b, errorName(err))
		b = append(b, ',')
		b = appendKey(b, "message")
		b = appendString(b, err.Error())
		err = errors.Unwrap(err)
	}
	for range depth {
		b = append(b, '}')
	}
	return b
}

// errorName is an error's type as Go spells it, without the pointer:
// "lighthouse.APIError", "fmt.wrapError".
func errorName(err error) string {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return fmt.Sprintf("%T", err)
	}
	return t.String()
}

// appendDuration appends ,"duration_ms":N,"duration":"..." as
// semantic_logger writes a measured line's duration (Log#duration_human).
func appendDuration(b []byte, d time.Duration) []byte {
	ms := float64(d) / float64(time.Millisecond)
	b = append(b, ',')
	b = appendKey(b, "duration_ms")
	b = appendFloat(b, ms)
	b = append(b, ',')
	b = appendKey(b, "duration")
	return appendString(b, durationHuman(d))
}

// durationHuman is semantic_logger's Log#duration_human: "2d 3h 4m",
// "3h 4m", "4m 5s", "5.250s", then milliseconds, "12.5ms" or "1.250ms".
func durationHuman(d time.Duration) string {
	const day = 24 * time.Hour
	secs := int64(d / time.Second)
	h, m, s := secs%86400/3600, secs%3600/60, secs%60
	switch {
	case d >= day:
		return fmt.Sprintf("%dd %dh %dm", secs/86400, h, m)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", h, m)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", m, s)
	case d >= time.Second:
		return fmt.Sprintf("%.3fs", d.Seconds())
	}
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.3fms", ms)
	}
	return fmt.Sprintf("%.1fms", ms)
}
