package datadog_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/deploy/kubernetes/kubelet"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/vagov/statsd"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

// failedSteps are the steps whose failure keys the worker sends: the two
// workflow steps Lighthouse names, and "" (a FAILED status naming no step,
// sent as failed.unknown).
var failedSteps = []string{fake.StepClaimsEvidence, fake.StepBGS, ""}

// series is one metric as Datadog receives it: its name, its kind (c, g for
// StatsD; counter, gauge for the OpenMetrics check) and the tags it carries.
type series struct {
	Kind string
	Tags []string
}

// sent is every metric the shipped settings send to Datadog, by name.
type sent map[string]series

// shipped is what deploy/kubernetes makes of the worker: its pod template
// and its main container's environment.
type shipped struct {
	pod *corev1.PodTemplateSpec
	c   *corev1.Container
	env []kubelet.Var
}

// workerAsShipped reads the worker's Deployment from deploy/kubernetes and
// builds its container's environment as the kubelet would (Secrets given a
// placeholder: no StatsD setting comes from one).
func workerAsShipped() shipped {
	GinkgoHelper()
	m, err := kubelet.DecodeDir("../kubernetes")
	Expect(err).NotTo(HaveOccurred())
	d, c := m.DeploymentRunning("run")
	Expect(d).NotTo(BeNil(), "deploy/kubernetes has no Deployment running `worker run`")
	secrets := map[string]map[string][]byte{}
	for _, e := range c.Env {
		if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil {
			if secrets[ref.SecretKeyRef.Name] == nil {
				secrets[ref.SecretKeyRef.Name] = map[string][]byte{}
			}
			secrets[ref.SecretKeyRef.Name][ref.SecretKeyRef.Key] = []byte("placeholder")
		}
	}
	pod := &kubelet.Pod{Template: &d.Spec.Template, Name: d.Name + "-0", Namespace: "lighthouse526", HostIP: "10.0.12.34", PodIP: "10.0.13.57"}
	env, err := kubelet.Environment(pod, c, &kubelet.Sources{Manifests: m, Secrets: secrets})
	Expect(err).NotTo(HaveOccurred())
	return shipped{pod: &d.Spec.Template, c: c, env: env}
}

// statsdTags are the tags config gives every StatsD line of the shipped
// worker: its STATSD_* and DD_* settings, as config reads them; false when
// it sends no StatsD.
func (s shipped) statsdTags() ([]string, bool) {
	GinkgoHelper()
	var environ []string
	for _, v := range s.env {
		if strings.HasPrefix(v.Name, "STATSD_") || strings.HasPrefix(v.Name, "DD_") {
			environ = append(environ, v.Name+"="+v.Value)
		}
	}
	cfg, err := config.Load(environ)
	Expect(err).NotTo(HaveOccurred())
	return cfg.StatsDTagList(), cfg.StatsDAgentAddr() != ""
}

// agentTags are the tags the Datadog agent puts on the pod's check metrics
// and logs: its unified service tags, from the tags.datadoghq.com labels.
func (s shipped) agentTags() []string {
	var tags []string
	for _, key := range []string{"env", "service", "version"} {
		if v := s.pod.Labels["tags.datadoghq.com/"+key]; v != "" {
			tags = append(tags, key+":"+v)
		}
	}
	return tags
}

// openMetricsAnnotation is the OpenMetrics check of the container's
// Autodiscovery annotation, if any.
func (s shipped) openMetricsAnnotation() (*openMetricsCheck, bool) {
	GinkgoHelper()
	raw, ok := s.pod.Annotations["ad.datadoghq.com/"+s.c.Name+".checks"]
	if !ok {
		return nil, false
	}
	var checks map[string]openMetricsCheck
	Expect(json.Unmarshal([]byte(raw), &checks)).To(Succeed(), "ad.datadoghq.com/%s.checks is not JSON", s.c.Name)
	check, ok := checks["openmetrics"]
	return &check, ok
}

// collectsLogs reports whether the agent collects the container's logs
// (an Autodiscovery logs annotation).
func (s shipped) collectsLogs() bool {
	_, ok := s.pod.Annotations["ad.datadoghq.com/"+s.c.Name+".logs"]
	return ok
}

// sentStatsD is every key the StatsD client sends and the tags on it: a real
// client with the shipped tags, every one of its methods called with every
// document type and failed step, read off a UDP socket. A method of a form
// it cannot call fails, so a new one is never missed.
func sentStatsD(tags []string) sent {
	GinkgoHelper()
	agent, err := statsdtest.Listen()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(agent.Close)
	c, err := statsd.New(statsd.Config{Addr: agent.Addr(), Tags: tags})
	Expect(err).NotTo(HaveOccurred())

	v := reflect.ValueOf(c)
	for i := range v.NumMethod() {
		m := v.Type().Method(i)
		if m.Name == "Flush" || m.Name == "Close" {
			continue
		}
		for _, args := range argumentSets(m) {
			v.Method(i).Call(args)
		}
	}
	Expect(c.Close()).To(Succeed())

	// Close sent every line; the socket has them all once two reads a
	// tenth of a second apart find the same number.
	last := -1
	Eventually(func() bool {
		n := len(agent.Lines())
		stable := n > 0 && n == last
		last = n
		return stable
	}).WithPolling(100 * time.Millisecond).Should(BeTrue())
	out := sent{}
	for _, line := range agent.Lines() {
		name, rest, ok := strings.Cut(line, ":")
		Expect(ok).To(BeTrue(), line)
		fields := strings.Split(rest, "|")
		Expect(len(fields)).To(BeNumerically(">=", 2), line)
		s := series{Kind: fields[1]}
		for _, f := range fields[2:] {
			if t, ok := strings.CutPrefix(f, "#"); ok {
				s.Tags = strings.Split(t, ",")
			}
		}
		out[name] = s
	}
	return out
}

// argumentSets are the calls made of one client method: its string
// parameters take each document type (the first) and each failed step (the
// second), its numbers 1.
func argumentSets(m reflect.Method) [][]reflect.Value {
	GinkgoHelper()
	sets := [][]reflect.Value{{}}
	strs := 0
	for p := 1; p < m.Type.NumIn(); p++ {
		t := m.Type.In(p)
		var values []reflect.Value
		switch t.Kind() {
		case reflect.String:
			choices := statsd.DocumentTypes
			if strs > 0 {
				choices = failedSteps
			}
			strs++
			for _, s := range choices {
				values = append(values, reflect.ValueOf(s).Convert(t))
			}
		case reflect.Int, reflect.Int64, reflect.Float64:
			values = append(values, reflect.ValueOf(1).Convert(t))
		default:
			Fail(fmt.Sprintf("statsd.Client.%s takes a %s: say here what to call it with", m.Name, t))
		}
		var next [][]reflect.Value
		for _, set := range sets {
			for _, val := range values {
				next = append(next, append(slices.Clone(set), val))
			}
		}
		sets = next
	}
	return sets
}

// openMetricsCheck is the part of an OpenMetrics check's configuration the
// spec reads.
type openMetricsCheck struct {
	InitConfig map[string]any        `json:"init_config"`
	Instances  []openMetricsInstance `json:"instances"`
}

type openMetricsInstance struct {
	Endpoint  string   `json:"openmetrics_endpoint"`
	Namespace string   `json:"namespace"`
	Metrics   []string `json:"metrics"`
	Tags      []string `json:"tags,omitempty"`
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

// sentOpenMetrics is what the check sends of the worker's Prometheus
// metrics, as polling.NewMetrics and runner.NewMetrics register them: only
// those it collects, as Datadog names them (v2 keeps a gauge's name and
// sends a counter as <name without _total>.count), with the check's tags.
func sentOpenMetrics(c *openMetricsCheck, tags []string) (sent, map[string]string, error) {
	reg := prometheus.NewRegistry()
	polling.NewMetrics(reg)
	runner.NewMetrics(reg)
	families, err := reg.Gather()
	if err != nil {
		return nil, nil, err
	}
	inst := c.Instances[0]
	out, prom := sent{}, map[string]string{}
	for _, name := range inst.Metrics {
		i := slices.IndexFunc(families, func(f *dto.MetricFamily) bool { return f.GetName() == name })
		if i < 0 {
			return nil, nil, fmt.Errorf("the check collects %q, which neither polling.NewMetrics nor runner.NewMetrics registers", name)
		}
		dd, kind := inst.Namespace+"."+name, "gauge"
		switch families[i].GetType() {
		case dto.MetricType_GAUGE:
		case dto.MetricType_COUNTER:
			dd, kind = inst.Namespace+"."+strings.TrimSuffix(name, "_total")+".count", "counter"
		default:
			return nil, nil, fmt.Errorf("the check collects %q, a %v: only gauges and counters are mapped", name, families[i].GetType())
		}
		out[dd] = series{Kind: kind, Tags: append(slices.Clone(tags), inst.Tags...)}
		prom[dd] = name
	}
	return out, prom, nil
}

// names lists a sent set's metric names, sorted.
func (s sent) names() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
