package tasks_test

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The answers FuzzStatusBatchPath serves when its ops input is not empty:
// built from the recorded answers' entries (lighthouse-api.md), with every
// field mutated as the fuzzer's ops bytes choose (wrong types, out-of-range
// numbers and times, bad encodings, duplicate ids and member names, huge
// strings, missing fields), and the fuzzer's text input spliced raw into a
// string. A byte of ops past its end reads as 0, which chooses the recorded
// value: a short ops input is a mostly real answer.

// opReader hands out the fuzzer's choices.
type opReader struct {
	b []byte
	i int
}

// pick returns the next choice in [0, n).
func (r *opReader) pick(n int) int {
	if r.i >= len(r.b) {
		return 0
	}
	v := int(r.b[r.i])
	r.i++
	return v % n
}

// fuzzAsked are the request ids the batch's pollable uploads wait on (see
// fuzzWorld); 26 has a pending upload outside the batch.
var fuzzAsked = []string{"22", "23", "24", "25", "16819", "21"}

// The recorded entries' parts (lighthouse-api.md, "POST /uploads/status").
const (
	recordedStart = "1718902851802"
	recordedEnd   = "1720793267285"
	recordedSteps = `[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"FAILED"},` +
		`{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"NOT_STARTED"}]`
	recordedError = `{"detail":"Workflow maximum step attempts exceeded for the current step","step":"CLAIMS_EVIDENCE"}`
)

// fuzzAnswer builds an answer from ops, with text as the raw content of the
// strings that take it, judged against now.
func fuzzAnswer(ops, text []byte, now time.Time) []byte {
	r := &opReader{b: ops}
	txt := stringContent(text)
	n := 1 + r.pick(8)
	var entries []string
	for i := range n {
		e := fuzzEntry(r, i, txt, now)
		entries = append(entries, e)
		switch r.pick(8) {
		case 1: // the same entry twice
			entries = append(entries, e)
		case 2: // the same request id again, saying something else
			entries = append(entries, strings.Replace(e, `"status":"SUCCESS"`, `"status":"FAILED"`, 1))
		}
	}
	statuses := "[" + strings.Join(entries, ",") + "]"
	notFound := ""
	switch r.pick(6) {
	case 1:
		notFound = `,"requestIdsNotFound":[` + fuzzAsked[r.pick(len(fuzzAsked))] + `]`
	case 2:
		notFound = `,"requestIdsNotFound":["` + fuzzAsked[r.pick(len(fuzzAsked))] + `",26]`
	case 3:
		notFound = `,"requestIdsNotFound":[0]`
	case 4:
		notFound = `,"requestIdsNotFound":null`
	}
	switch r.pick(12) {
	case 1:
		return []byte(`{"data":{"statuses":null` + notFound + `}}`)
	case 2:
		return []byte(`{"data":null}`)
	case 3:
		return []byte(`{"data":{"statuses":` + statuses + notFound + `},"meta":{"note":"` + txt + `"}}`)
	case 4: // a repeated envelope member
		return []byte(`{"data":{"statuses":` + statuses + `},"data":{"statuses":[]}}`)
	case 5:
		return []byte(`{"data":{"statuses":{}}}`)
	case 6:
		return []byte(`{"Data":{"statuses":` + statuses + `}}`)
	}
	return []byte(`{"data":{"statuses":` + statuses + notFound + `}}`)
}

// fuzzEntry is the i-th status entry.
func fuzzEntry(r *opReader, i int, txt string, now time.Time) string {
	var m []string
	add := func(name, value string) { m = append(m, `"`+name+`":`+value) }

	switch k := r.pick(32); {
	case k < 16:
		add("requestId", fuzzAsked[(i+k)%len(fuzzAsked)])
	default:
		if v := []string{`"22"`, `26`, `0`, `-1`, `22.0`, `"2x"`, `null`, `9223372036854775808`, `true`, `{}`, `"\u0032\u0033"`, `1e1`, `"` + txt + `"`, ``, `" 24"`, `024`}[k-16]; v != "" {
			add("requestId", v)
		}
	}
	status := []string{`"SUCCESS"`, `"FAILED"`, `"IN_PROGRESS"`, `"NOT_STARTED"`, `"success"`, `7`, `null`, ``, `""`, `"` + txt + `"`, `["SUCCESS"]`, `"SUCCESS\u0000"`}[r.pick(12)]
	if status != "" {
		add("status", status)
	}
	ahead := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).UnixMilli(), 10) }
	switch r.pick(20) {
	case 0:
		add("time", `{"startTime":`+recordedStart+`,"endTime":`+recordedEnd+`}`)
	case 1:
		add("time", `{"startTime":`+recordedStart+`,"endTime":null}`)
	case 2:
		add("time", `{"startTime":`+recordedStart+`}`)
	case 3:
		add("time", `null`)
	case 4: // absent
	case 5:
		add("time", `{}`)
	case 6:
		add("time", `{"startTime":`+recordedStart+`,"endTime":9999999999999999}`)
	case 7:
		add("time", `{"startTime":-99999999999999,"endTime":null}`)
	case 8:
		add("time", `{"startTime":`+recordedEnd+`,"endTime":`+recordedStart+`}`)
	case 9:
		add("time", `{"startTime":"yesterday","endTime":`+recordedEnd+`}`)
	case 10:
		add("time", `{"startTime":`+recordedStart+`,"endTime":1.7e12}`)
	case 11:
		add("time", `{"startTime":`+recordedStart+`,"endTime":99999999999999999999}`)
	case 12:
		add("time", `{"startTime":`+recordedStart+`,"endTime":`+ahead(48*time.Hour)+`}`)
	case 13:
		add("time", `{"startTime":946684799999,"endTime":`+recordedEnd+`}`)
	case 14:
		add("time", `{"startTime":946684800000,"endTime":`+ahead(23*time.Hour)+`}`)
	case 15:
		add("time", `[]`)
	case 16:
		add("time", `"`+txt+`"`)
	case 17:
		add("time", `{"startTime":`+recordedStart+`,"endTime":`+recordedEnd+`,"startTime":`+recordedStart+`}`)
	case 18:
		add("time", `{"startTime":-0,"endTime":0}`)
	case 19:
		add("time", `{"startTime":`+recordedStart+`,"endTime":`+recordedStart+`}`)
	}
	switch r.pick(8) {
	case 0:
		add("steps", recordedSteps)
	case 1: // absent
	case 2:
		add("steps", `null`)
	case 3:
		add("steps", `[{"name":"CLAIMS_EVIDENCE","description":"`+txt+`","status":"FAILED"}]`)
	case 4:
		add("steps", `[{"name":"CLAIMS_EVIDENCE","description":"`+strings.Repeat("d", 70<<10)+`"}]`)
	case 5:
		add("steps", `"`+txt+`"`)
	case 6:
		add("steps", `[{"name":"CLAIMS_EVIDENCE","description":"lone \ud800 and \udc00 and a pair \ud83d\ude00"}]`)
	case 7:
		add("steps", `[{"name":"CLAIMS_EVIDENCE","name":"BENEFITS_GATEWAY_SERVICE"}]`)
	}
	switch r.pick(14) {
	case 0:
		add("error", recordedError)
	case 1: // absent
	case 2:
		add("error", `null`)
	case 3:
		add("error", `{"detail":"`+txt+`","step":"CLAIMS_EVIDENCE"}`)
	case 4:
		add("error", `{"detail":7,"step":"CLAIMS_EVIDENCE"}`)
	case 5:
		add("error", `{"detail":"x","step":["CLAIMS_EVIDENCE"]}`)
	case 6:
		add("error", `"`+txt+`"`)
	case 7:
		add("error", `{"detail":"`+strings.Repeat("x", 70<<10)+`","step":"BENEFITS_GATEWAY_SERVICE"}`)
	case 8:
		add("error", `{}`)
	case 9:
		add("error", `{"detail":null,"step":null}`)
	case 10:
		add("error", `{"detail":"disk \ud800 full","step":"CLAIMS_EVIDENCE"}`)
	case 11:
		add("error", `{"detail":"x","step":"`+txt+`"}`)
	case 12:
		add("error", `{"detail":"x","step":"  "}`)
	case 13:
		add("error", `{"detail":"x","step":"CLAIMS_EVIDENCE","detail":"y"}`)
	}
	for range r.pick(3) {
		switch r.pick(12) {
		case 0:
			add("extra", `{"x":[1,2,{"y":null}]}`)
		case 1: // a member twice
			add("status", `"SUCCESS"`)
		case 2:
			add("note", `"a \u0000 in text"`)
		case 3: // another case of a member's name
			add("Error", `"not the error"`)
		case 4: // numbers Postgres's jsonb cannot hold
			add("n", `1e999999`)
		case 5:
			add("n", `-1e-999999`)
		case 6:
			add("n", `123456789012345678901234567890.5e-3`)
		case 7:
			add(txt, `1`)
		case 8:
			add("requestId", fuzzAsked[r.pick(len(fuzzAsked))])
		case 9:
			add("Status", `"SUCCESS"`)
		case 10:
			add("deep", strings.Repeat("[", 200)+strings.Repeat("]", 200))
		case 11:
			add("escaped\\u0000name", `2`)
		}
	}
	if r.pick(4) == 1 { // members in another order
		for a, b := 0, len(m)-1; a < b; a, b = a+1, b-1 {
			m[a], m[b] = m[b], m[a]
		}
	}
	return "{" + strings.Join(m, ",") + "}"
}

// stringContent makes b the content of a JSON string as raw as the syntax
// allows: its bytes kept (invalid UTF-8 too), its escapes kept (lone
// surrogates and \u0000 too), only a quote, a control byte or a backslash
// that starts no escape escaped.
func stringContent(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			sb.WriteString(`\"`)
		case c < 0x20:
			fmt.Fprintf(&sb, `\u%04x`, c)
		case c == '\\' && i+1 < len(b) && strings.IndexByte(`"\/bfnrt`, b[i+1]) >= 0:
			sb.Write(b[i : i+2])
			i++
		case c == '\\' && i+5 < len(b) && b[i+1] == 'u' && isHex(b[i+2:i+6]):
			sb.Write(b[i : i+6])
			i += 5
		case c == '\\':
			sb.WriteString(`\\`)
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
			return false
		}
	}
	return true
}
