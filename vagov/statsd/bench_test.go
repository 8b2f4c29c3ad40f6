package statsd_test

import (
	"testing"

	"github.com/vagov/lighthouse526/vagov/statsd"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

// The per-document calls, as a batch of a thousand makes them: disabled (a
// nil client) and sending to a local socket through client-side aggregation.
func BenchmarkDocumentCalls(b *testing.B) {
	agent, err := statsdtest.Listen()
	if err != nil {
		b.Fatal(err)
	}
	defer agent.Close()
	enabled, err := statsd.New(statsd.Config{Addr: agent.Addr(), Tags: []string{"env:bench"}})
	if err != nil {
		b.Fatal(err)
	}
	defer enabled.Close()
	for _, c := range []struct {
		name   string
		client *statsd.Client
	}{{"disabled", nil}, {"enabled", enabled}} {
		b.Run(c.name+"/complete", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.client.DocumentCompleted("veteran_upload")
			}
		})
		b.Run(c.name+"/failed", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.client.DocumentFailed("form_0781", "claims_evidence")
			}
		})
	}
}
