package lighthouse_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/vagov/lighthouse526/lighthouse"
)

// FuzzDecodeStatusResponse checks DecodeStatusResponse never panics, and that
// whatever it accepts is sound: ids are decimal strings, Raw is one JSON
// object of the body, an answer is accepted only with a usable status or
// none invalid, and every failure wraps ErrMalformedResponse.
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
			if !json.Valid(s.Raw) || s.Raw[0] != '{' || !bytes.Contains(body, s.Raw) {
				t.Fatalf("Raw is not one JSON object of the body: %q", s.Raw)
			}
		}
		if len(resp.Statuses) == 0 && len(resp.Invalid) > 0 {
			t.Fatalf("an answer with no usable status accepted")
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
