package lighthouse_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/vagov/lighthouse526/lighthouse"
)

// FuzzDecodeStatusResponse checks DecodeStatusResponse never panics, and that
// whatever it accepts is sound and storable: ids are decimal strings, Raw is
// one JSON object of Body (the body as sent, or its repaired copy) that the
// strict decoder reads (no invalid UTF-8, no lone surrogate: jsonb's rules),
// no text field is over MaxFieldBytes and its cut mark, every time is
// plausible, an answer is accepted only with a usable status or an entry
// read whole, and every failure wraps ErrMalformedResponse. Its seeds hold
// every hostile kind of issue 23 (testdata/fuzz holds the corpus).
func FuzzDecodeStatusResponse(f *testing.F) {
	for _, seed := range []string{
		realSuccessBody,
		realFailedBody,
		realNotFound404,
		`{"data":{"statuses":[{"requestId":23,"time":{"startTime":1718902851802,"endTime":null},"status":"IN_PROGRESS","steps":[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"d","status":"IN_PROGRESS"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"d","status":"NOT_STARTED"}]}]}}`,
		`{"data":{"statuses":[],"requestIdsNotFound":[21,"22"]}}`,
		`{"data":{"statuses":[{"requestId":"22","status":"SUCCESS","error":null,"time":null,"steps":null,"extra":{"x":[1,2]}}]}}`,
		`{"data":null}`,
		`null`,
		``,
	} {
		f.Add([]byte(seed))
	}
	for _, seed := range hostileSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, err := lighthouse.DecodeStatusResponse(body)
		if err != nil {
			if !errors.Is(err, lighthouse.ErrMalformedResponse) {
				t.Fatalf("error does not wrap ErrMalformedResponse: %v", err)
			}
			if resp != nil {
				t.Fatalf("a response with an error")
			}
			return
		}
		for _, s := range resp.Statuses {
			if !decimal(s.RequestID) {
				t.Fatalf("request id %q is not decimal", s.RequestID)
			}
			if s.Status == "" {
				t.Fatalf("empty status accepted")
			}
			if _, ok := resp.Body.Offset(s.Raw); !ok || !json.Valid(s.Raw) || s.Raw[0] != '{' {
				t.Fatalf("Raw is not one JSON object of Body: %q", s.Raw)
			}
			if len(resp.Repaired) == 0 && !bytes.Contains(body, s.Raw) {
				t.Fatalf("nothing repaired, yet Raw is not a part of the body sent: %q", s.Raw)
			}
			var v any
			if err := jsonv2.Unmarshal(s.Raw, &v); err != nil {
				t.Fatalf("Raw is not what jsonb stores (%v): %q", err, s.Raw)
			}
			if s.Error != nil && len(s.Error.Detail) > lighthouse.MaxFieldBytes+100 {
				t.Fatalf("error.detail of %d bytes kept", len(s.Error.Detail))
			}
			checkTimes(t, s)
		}
		readWhole := false
		for _, bad := range resp.Invalid {
			readWhole = readWhole || bad.Implausible
		}
		if len(resp.Statuses) == 0 && len(resp.Invalid) > 0 && !readWhole {
			t.Fatalf("an answer with no usable status accepted")
		}
		for _, r := range resp.Repaired {
			if !slices.ContainsFunc(resp.Statuses, func(s lighthouse.Status) bool { return s.RequestID == r.RequestID }) {
				t.Fatalf("repaired entry %q is not among the statuses", r.RequestID)
			}
		}
		for _, bad := range resp.Invalid {
			if !errors.Is(bad.Err, lighthouse.ErrMalformedResponse) {
				t.Fatalf("invalid entry's error does not wrap ErrMalformedResponse: %v", bad.Err)
			}
			if bad.RequestID != "" && !decimal(bad.RequestID) {
				t.Fatalf("invalid entry's request id %q is not decimal", bad.RequestID)
			}
		}
		for _, id := range resp.NotFound {
			if !decimal(id) {
				t.Fatalf("not-found id %q is not decimal", id)
			}
		}
	})
}

// checkTimes fails t for a time outside the plausible range or an end
// before its start.
func checkTimes(t *testing.T, s lighthouse.Status) {
	t.Helper()
	lo, hi := lighthouse.EarliestTime.UnixMilli(), time.Now().Add(lighthouse.MaxTimeAhead+time.Minute).UnixMilli()
	for _, ms := range []*int64{s.StartTime, s.EndTime} {
		if ms != nil && (*ms < lo || *ms > hi) {
			t.Fatalf("status %s: time %d accepted", s.RequestID, *ms)
		}
	}
	if s.StartTime != nil && s.EndTime != nil && *s.EndTime < *s.StartTime {
		t.Fatalf("status %s: an end before its start accepted", s.RequestID)
	}
}

// hostileSeeds are answers with one entry of each hostile kind issue 23
// found beside a good one (the checked-in corpus, testdata/fuzz, holds them
// too, and what fuzzing found).
var hostileSeeds = []string{
	hostileAnswer(`"error":{"detail":"disk \ud800 full","step":"CLAIMS_EVIDENCE"}`, `1718902851802`, `1720793267285`),
	hostileAnswer(`"error":{"detail":"\udc00\ud83d","step":"CLAIMS_EVIDENCE"}`, `1718902851802`, `1720793267285`),
	hostileAnswer("\"error\":{\"detail\":\"caf\xe9 \xff\xfe\",\"step\":\"CLAIMS_EVIDENCE\"}", `1718902851802`, `1720793267285`),
	hostileAnswer(`"error":{"detail":"x","step":"CLAIMS_EVIDENCE"}`, `1718902851802`, `9999999999999999`),
	hostileAnswer(`"error":{"detail":"x","step":"CLAIMS_EVIDENCE"}`, `-99999999999999`, `null`),
	hostileAnswer(`"error":{"detail":"x","step":"CLAIMS_EVIDENCE"}`, `1720793267285`, `1718902851802`),
	hostileAnswer(`"error":{"detail":"`+strings.Repeat("x", lighthouse.MaxFieldBytes+1000)+`","step":"CLAIMS_EVIDENCE"}`, `1718902851802`, `1720793267285`),
	hostileAnswer(`"error":{"detail":7,"step":["CLAIMS_EVIDENCE"]}`, `"yesterday"`, `1720793267285`),
	strings.Replace(hostileAnswer(`"error":null`, `1718902851802`, `1720793267285`), `{"requestId":23`, `{"requestId":23,"time":null,"status":"SUCCESS"},{"requestId":23`, 1),
}

// hostileAnswer is a FAILED entry for request id 23 with error member
// errMember and the given times, after a good SUCCESS entry for 22.
func hostileAnswer(errMember, start, end string) string {
	return `{"data":{"statuses":[{"requestId":22,"time":{"startTime":1718902851802,"endTime":1720793267285},"status":"SUCCESS","steps":[]},` +
		`{"requestId":23,"time":{"startTime":` + start + `,"endTime":` + end + `},"status":"FAILED",` + errMember + `}]}}`
}

func decimal(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
