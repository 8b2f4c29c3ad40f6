package lighthouse_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/vagov/lighthouse526/lighthouse"
)

// statusAnswer100 is a 200 body of POST /uploads/status for 100 ids, shaped
// like the API's (see the fake): 80 SUCCESS, 10 FAILED, 10 IN_PROGRESS.
func statusAnswer100() []byte {
	statuses := make([]json.RawMessage, 0, 100)
	for i := range 100 {
		id := 1_000_000 + i
		steps := `[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"SUCCESS"},` +
			`{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"SUCCESS"}]`
		var s string
		switch {
		case i%10 == 0:
			s = fmt.Sprintf(`{"requestId":%d,"time":{"startTime":1767225600000,"endTime":1767226200000},"status":"FAILED","steps":%s,"error":{"detail":"Workflow maximum step attempts exceeded for the current step","step":"BENEFITS_GATEWAY_SERVICE"}}`, id, steps)
		case i%10 == 1:
			s = fmt.Sprintf(`{"requestId":%d,"time":{"startTime":1767225600000,"endTime":null},"status":"IN_PROGRESS","steps":%s}`, id, steps)
		default:
			s = fmt.Sprintf(`{"requestId":%d,"time":{"startTime":1767225600000,"endTime":1767226200000},"status":"SUCCESS","steps":%s}`, id, steps)
		}
		statuses = append(statuses, json.RawMessage(s))
	}
	b, _ := json.Marshal(map[string]any{"data": map[string]any{"statuses": statuses}})
	return b
}

// BenchmarkDecodeStatusResponse decodes one answer for a batch of 100 ids.
// Run: go test ./lighthouse -run '^$' -bench DecodeStatusResponse
func BenchmarkDecodeStatusResponse(b *testing.B) {
	body := statusAnswer100()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		resp, err := lighthouse.DecodeStatusResponse(body)
		if err != nil || len(resp.Statuses) != 100 {
			b.Fatalf("decode: %v (%d statuses)", err, len(resp.Statuses))
		}
	}
}

// BenchmarkDecodeStatusResponseRepaired decodes the same answer with one
// entry's error.detail holding a lone surrogate: the answer is repaired in
// a copy and decoded again (the hostile path, not the common one).
// Run: go test ./lighthouse -run '^$' -bench DecodeStatusResponse
func BenchmarkDecodeStatusResponseRepaired(b *testing.B) {
	body := bytes.Replace(statusAnswer100(), []byte(`"detail":"Workflow`), []byte(`"detail":"\ud800 Workflow`), 1)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		resp, err := lighthouse.DecodeStatusResponse(body)
		if err != nil || len(resp.Statuses) != 100 || len(resp.Repaired) != 1 {
			b.Fatalf("decode: %v (%d statuses)", err, len(resp.Statuses))
		}
	}
}
