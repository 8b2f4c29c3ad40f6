package tasks_test

// Go benchmarks of the task types (the batch's own are polling's):
//
//	go test ./tasks -run '^$' -bench . -benchtime 200x

import (
	"strconv"
	"testing"

	"github.com/vagov/lighthouse526/tasks"
)

const benchBatch = 100

// BenchmarkNewStatusBatchTask builds one batch task of 100 ids, as the
// fan-out does 10,000 times for a million uploads.
func BenchmarkNewStatusBatchTask(b *testing.B) {
	ids := make([]string, benchBatch)
	for i := range ids {
		ids[i] = strconv.Itoa(4_000_000 + i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tasks.NewStatusBatchTask("lighthouse_document_status", "cron:2026-01-01T00:15:00Z", 1234, ids); err != nil {
			b.Fatal(err)
		}
	}
}
