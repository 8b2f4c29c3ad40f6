package models_test

import (
	"testing"

	"github.com/vagov/lighthouse526/models"
)

// BenchmarkJSONEqual compares a status as Postgres returns a stored jsonb
// (keys reordered, spaces added) with the same status as Lighthouse sends it:
// what deciding costs for every upload polled again while still in progress.
//
//	go test ./models -run '^$' -bench JSONEqual -benchmem
func BenchmarkJSONEqual(b *testing.B) {
	stored := []byte(`{"time": {"endTime": null, "startTime": 1795769584006}, "steps": [{"name": "CLAIMS_EVIDENCE", "status": "SUCCESS", "description": "The workflow step that uploads the document to Claims Evidence", "nextStepName": "BENEFITS_GATEWAY_SERVICE"}, {"name": "BENEFITS_GATEWAY_SERVICE", "status": "IN_PROGRESS", "description": "The workflow step that uploads the document to Benefits Gateway Service"}], "status": "IN_PROGRESS", "requestId": 40236}`)
	answer := []byte(`{"requestId":40236,"time":{"startTime":1795769584006,"endTime":null},"status":"IN_PROGRESS","steps":[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"SUCCESS"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"IN_PROGRESS"}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if !models.JSONEqual(stored, answer) {
			b.Fatal("the same status compared unequal")
		}
	}
}
