package datadog_test

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/vagov/statsd"
)

// failedSteps are the steps whose failure keys the worker sends: the two
// workflow steps Lighthouse names, and "" (a FAILED status naming no step,
// sent as failed.unknown).
var failedSteps = []string{fake.StepClaimsEvidence, fake.StepBGS, ""}

// statsdKeys is every StatsD key the worker sends, from vagov/statsd's
// constants and key builders.
func statsdKeys() []string {
	keys := []string{
		statsd.KeyPollingError,
		statsd.KeyExhausted,
		statsd.KeyPendingDocumentsPolled,
		statsd.KeyPendingDocumentsMarkedCompleted,
		statsd.KeyPendingDocumentsMarkedFailed,
	}
	for _, t := range statsd.DocumentTypes {
		keys = append(keys, statsd.CompleteKey(t), statsd.ProcessingTimeoutKey(t))
		for _, s := range failedSteps {
			keys = append(keys, statsd.FailedKey(t, s))
		}
	}
	return keys
}

// openMetricsCheck is the part of openmetrics.yaml the spec reads.
type openMetricsCheck struct {
	InitConfig map[string]any `json:"init_config"`
	Instances  []struct {
		Endpoint  string   `json:"openmetrics_endpoint"`
		Namespace string   `json:"namespace"`
		Metrics   []string `json:"metrics"`
	} `json:"instances"`
}

// loadOpenMetricsCheck reads the agent check's configuration strictly.
func loadOpenMetricsCheck(file string) (*openMetricsCheck, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c openMetricsCheck
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(c.Instances) != 1 || c.Instances[0].Namespace == "" {
		return nil, fmt.Errorf("%s: want one instance with a namespace", file)
	}
	return &c, nil
}

// openMetricsNames maps each Datadog name the check makes of the worker's
// Prometheus metrics, as polling.NewMetrics and runner.NewMetrics register
// them, to the Prometheus name; only the metrics the check collects. The
// check (v2) keeps a gauge's name and sends a counter as <name without
// _total>.count.
func openMetricsNames(c *openMetricsCheck) (map[string]string, error) {
	reg := prometheus.NewRegistry()
	polling.NewMetrics(reg)
	runner.NewMetrics(reg)
	families, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	inst := c.Instances[0]
	out := make(map[string]string)
	for _, name := range inst.Metrics {
		i := slices.IndexFunc(families, func(f *dto.MetricFamily) bool { return f.GetName() == name })
		if i < 0 {
			return nil, fmt.Errorf("openmetrics.yaml collects %q, which neither polling.NewMetrics nor runner.NewMetrics registers", name)
		}
		dd := inst.Namespace + "." + name
		switch families[i].GetType() {
		case dto.MetricType_GAUGE:
		case dto.MetricType_COUNTER:
			dd = inst.Namespace + "." + strings.TrimSuffix(name, "_total") + ".count"
		default:
			return nil, fmt.Errorf("openmetrics.yaml collects %q, a %v: only gauges and counters are mapped", name, families[i].GetType())
		}
		out[dd] = name
	}
	return out, nil
}
