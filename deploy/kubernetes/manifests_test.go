package kubernetes_test

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/deploy/kubernetes/kubelet"
)

// benchPeakRSS is a worker process's peak RSS measured by `worker bench` at
// 1M documents with two batches in flight (README, Performance: 36.8-37.2
// MiB over five runs).
const benchPeakRSS = 37 << 20

// shutdownDrain is what `worker run` spends after SHUTDOWN_TIMEOUT: up to
// 5 s closing its HTTP servers (worker/run.go), then exiting; the grace
// period leaves this much beyond SHUTDOWN_TIMEOUT.
const shutdownDrain = 10 * time.Second

// imageUser is the numeric uid and gid of the Containerfile's USER line.
func imageUser() (uid, gid int64) {
	m := regexp.MustCompile(`^([0-9]+):([0-9]+)$`).FindStringSubmatch(image.User)
	Expect(m).NotTo(BeNil(), "the Containerfile has no numeric USER uid:gid line")
	uid, err := strconv.ParseInt(m[1], 10, 64)
	Expect(err).NotTo(HaveOccurred())
	gid, err = strconv.ParseInt(m[2], 10, 64)
	Expect(err).NotTo(HaveOccurred())
	return uid, gid
}

// madeImage is the image `make image` tags for the manifests: the
// Makefile's IMAGE, tag latest (spec/image checks that make image makes it).
func madeImage() string {
	b, err := os.ReadFile("../../Makefile")
	Expect(err).NotTo(HaveOccurred())
	m := regexp.MustCompile(`(?m)^IMAGE \?= (\S+)$`).FindSubmatch(b)
	Expect(m).NotTo(BeNil(), "the Makefile sets no IMAGE")
	return string(m[1]) + ":latest"
}

// portOf is the port of a host:port.
func portOf(addr string) int32 {
	_, p, err := net.SplitHostPort(addr)
	Expect(err).NotTo(HaveOccurred())
	n, err := strconv.ParseInt(p, 10, 32)
	Expect(err).NotTo(HaveOccurred())
	return int32(n)
}

// listensBeyondLoopback reports whether a host:port is reachable from
// outside the pod (the kubelet's probes, Prometheus, a Service).
func listensBeyondLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	Expect(err).NotTo(HaveOccurred())
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && !ip.IsLoopback())
}

// containerPort resolves a probe's or Service's port (a number or a port
// name) against a container.
func containerPort(c *corev1.Container, port intstr.IntOrString) int32 {
	if port.Type == intstr.Int {
		return port.IntVal
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return p.ContainerPort
		}
	}
	Fail(fmt.Sprintf("container %s has no port named %q", c.Name, port.StrVal))
	return 0
}

// defaults is config with nothing set: the binary's own defaults.
func defaults() *config.Config {
	cfg, err := config.Load(nil)
	Expect(err).NotTo(HaveOccurred())
	return cfg
}

func selects(sel *metav1.LabelSelector, podLabels map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	Expect(err).NotTo(HaveOccurred())
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

// deployment is the Deployment running a subcommand, its main container,
// its pod and the container's environment and settings.
type deployment struct {
	workload string
	tmpl     *corev1.PodTemplateSpec
	c        *corev1.Container
	pod      *kubelet.Pod
	env      []kubelet.Var
	cfg      *config.Config
}

func running(subcommand string) deployment {
	GinkgoHelper()
	d, c := objects.DeploymentRunning(subcommand)
	Expect(d).NotTo(BeNil(), "no Deployment runs `worker %s`", subcommand)
	out := deployment{workload: "Deployment " + d.Name, tmpl: &d.Spec.Template, c: c}
	out.pod = staticPod(out.workload, out.tmpl)
	out.env = containerEnv(out.pod, c)
	cfg, err := loadConfig(out.pod, c, out.env)
	Expect(err).NotTo(HaveOccurred())
	out.cfg = cfg
	return out
}

// probe checks an HTTP probe's path and port.
func probe(c *corev1.Container, p *corev1.Probe, path string, port int32) {
	GinkgoHelper()
	Expect(p).NotTo(BeNil())
	Expect(p.HTTPGet).NotTo(BeNil())
	Expect(p.HTTPGet.Path).To(Equal(path))
	Expect(containerPort(c, p.HTTPGet.Port)).To(Equal(port))
}

var _ = Describe("The Kubernetes reference deployment", func() {
	It("decodes strictly into the API types, refusing an unknown field", func() {
		Expect(objects.Deployments).To(HaveLen(3))
		Expect(objects.ConfigMaps).To(HaveLen(1))
		Expect(objects.PDBs).To(HaveLen(1))

		err := (&kubelet.Manifests{}).Decode([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndatum:\n  A: b\n"))
		Expect(err).To(MatchError(ContainSubstring(`unknown field "datum"`)))
		err = (&kubelet.Manifests{}).Decode([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n"))
		Expect(err).To(MatchError(ContainSubstring("not one this package decodes")))
	})

	It("sets only variables config reads, and those a later one of the container expands", func() {
		known := map[string]bool{}
		for _, name := range config.EnvNames() {
			known[name] = true
		}
		var unknown []string
		for _, cm := range objects.ConfigMaps {
			for k := range cm.Data {
				if !known[k] {
					unknown = append(unknown, "ConfigMap "+cm.Name+": "+k)
				}
			}
		}
		for workload, pod := range objects.Pods() {
			for _, c := range kubelet.AllContainers(&pod.Spec) {
				for i, e := range c.Env {
					if known[e.Name] || expandedLater(c.Env[i+1:], e.Name) {
						continue
					}
					unknown = append(unknown, workload+", container "+c.Name+": "+e.Name)
				}
			}
		}
		sort.Strings(unknown)
		Expect(unknown).To(BeEmpty(), "variables config does not read")
	})

	It("leaves no $(VAR) unexpanded: each names a variable set before it", func() {
		var left []string
		for workload, tmpl := range objects.Pods() {
			pod := staticPod(workload, tmpl)
			for _, c := range kubelet.AllContainers(&tmpl.Spec) {
				env := containerEnv(pod, c)
				for _, v := range env {
					for _, ref := range kubelet.References(v.Value) {
						left = append(left, fmt.Sprintf("%s, container %s: %s has $(%s)", workload, c.Name, v.Name, ref))
					}
				}
				for _, a := range kubelet.CommandLine(c, env, image.Entrypoint, image.Cmd) {
					for _, ref := range kubelet.References(a) {
						left = append(left, fmt.Sprintf("%s, container %s: argument %q has $(%s)", workload, c.Name, a, ref))
					}
				}
			}
		}
		Expect(left).To(BeEmpty(), "references Kubernetes leaves as written")
	})

	It("takes every secret from a Secret, never from a literal or a ConfigMap", func() {
		Expect(objects.Secrets).To(BeEmpty(), "Secrets are created outside the manifests (docs/deployment.md)")
		var leaks []string
		for _, cm := range objects.ConfigMaps {
			for k := range cm.Data {
				if config.IsSecret(k) {
					leaks = append(leaks, "ConfigMap "+cm.Name+": "+k)
				}
			}
		}
		for workload, tmpl := range objects.Pods() {
			pod := staticPod(workload, tmpl)
			for _, c := range kubelet.AllContainers(&tmpl.Spec) {
				for _, ef := range c.EnvFrom {
					Expect(ef.SecretRef).To(BeNil(), "%s, container %s: envFrom a Secret hides which variables it sets; use secretKeyRef", workload, c.Name)
				}
				files, err := kubelet.SecretFiles(&tmpl.Spec, c, placeholderSecrets(nowhere))
				Expect(err).NotTo(HaveOccurred())
				for _, v := range containerEnv(pod, c) {
					_, isFile := kubelet.SecretFileAt(files, v.Value)
					if config.IsSecret(v.Name) && v.Source != kubelet.FromSecret && !isFile {
						leaks = append(leaks, fmt.Sprintf("%s, container %s: %s from %s", workload, c.Name, v.Name, v.Source))
					}
				}
			}
		}
		sort.Strings(leaks)
		Expect(leaks).To(BeEmpty(), "secrets not from a Secret")
	})

	It("gives every container settings that config accepts, the Secrets' values included", func() {
		for workload, tmpl := range objects.Pods() {
			pod := staticPod(workload, tmpl)
			for _, c := range kubelet.AllContainers(&tmpl.Spec) {
				_, err := loadConfig(pod, c, containerEnv(pod, c))
				Expect(err).NotTo(HaveOccurred(), "%s, container %s", workload, c.Name)
			}
		}
	})

	It("runs every container from the image `make image` tags, without pulling it when present", func() {
		want := madeImage()
		for workload, tmpl := range objects.Pods() {
			for _, c := range kubelet.AllContainers(&tmpl.Spec) {
				Expect(c.Image).To(Equal(want), "%s, container %s", workload, c.Name)
				Expect(c.ImagePullPolicy).To(Equal(corev1.PullIfNotPresent), "%s, container %s: a :latest image is pulled at every start by default", workload, c.Name)
			}
		}
	})

	It("gives the Go runtime 90% of each container's memory limit", func() {
		for workload, tmpl := range objects.Pods() {
			pod := staticPod(workload, tmpl)
			for _, c := range kubelet.AllContainers(&tmpl.Spec) {
				where := workload + ", container " + c.Name
				v, ok := kubelet.Lookup(containerEnv(pod, c), "CONTAINER_MEMORY_LIMIT")
				Expect(ok).To(BeTrue(), "%s: no CONTAINER_MEMORY_LIMIT", where)
				Expect(v.Source).To(Equal(kubelet.FromResourceField), where)
				limit := c.Resources.Limits[corev1.ResourceMemory]
				Expect(v.Value).To(Equal(strconv.FormatInt(limit.Value(), 10)), "%s: not the container's own memory limit in bytes", where)

				cfg, err := loadConfig(pod, c, containerEnv(pod, c))
				Expect(err).NotTo(HaveOccurred())
				Expect(cfg.GoMemoryLimit()).To(Equal(limit.Value()*config.GoMemLimitPercent/100), where)
			}
		}
	})

	It("hardens every pod and container, running them as the image's non-root user", func() {
		uid, gid := imageUser()
		for workload, pod := range objects.Pods() {
			spec := &pod.Spec
			Expect(spec.AutomountServiceAccountToken).To(HaveValue(BeFalse()), workload)
			sc := spec.SecurityContext
			Expect(sc).NotTo(BeNil(), workload)
			Expect(sc.RunAsNonRoot).To(HaveValue(BeTrue()), workload)
			Expect(sc.RunAsUser).To(HaveValue(Equal(uid)), "%s: runAsUser is not the image's USER", workload)
			Expect(sc.RunAsGroup).To(HaveValue(Equal(gid)), "%s: runAsGroup is not the image's USER", workload)
			Expect(sc.SeccompProfile).NotTo(BeNil(), workload)
			Expect(sc.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault), workload)
			for _, c := range kubelet.AllContainers(spec) {
				where := workload + ", container " + c.Name
				csc := c.SecurityContext
				Expect(csc).NotTo(BeNil(), where)
				Expect(csc.AllowPrivilegeEscalation).To(HaveValue(BeFalse()), where)
				Expect(csc.ReadOnlyRootFilesystem).To(HaveValue(BeTrue()), where)
				Expect(csc.Privileged).NotTo(HaveValue(BeTrue()), where)
				Expect(csc.Capabilities).NotTo(BeNil(), where)
				Expect(csc.Capabilities.Drop).To(HaveExactElements(corev1.Capability("ALL")), where)
				Expect(csc.Capabilities.Add).To(BeEmpty(), where)
				for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
					Expect(c.Resources.Requests).To(HaveKey(r), where)
					Expect(c.Resources.Limits).To(HaveKey(r), where)
				}
			}
		}
	})

	It("selects its own pods with every Deployment, PodDisruptionBudget and Service", func() {
		for _, d := range objects.Deployments {
			Expect(selects(d.Spec.Selector, d.Spec.Template.Labels)).To(BeTrue(), "Deployment %s", d.Name)
		}
		for _, p := range objects.PDBs {
			_, ok := matchingDeployment(p.Spec.Selector)
			Expect(ok).To(BeTrue(), "PodDisruptionBudget %s selects no Deployment's pods", p.Name)
		}
		for _, s := range objects.Services {
			_, ok := matchingDeployment(&metav1.LabelSelector{MatchLabels: s.Spec.Selector})
			Expect(ok).To(BeTrue(), "Service %s selects no Deployment's pods", s.Name)
		}
	})

	Context("the worker", func() {
		It("runs two replicas or more, and lets one go at a time", func() {
			d, _ := objects.DeploymentRunning("run")
			Expect(d).NotTo(BeNil(), "no Deployment runs `worker run`")
			Expect(d.Spec.Replicas).To(HaveValue(BeNumerically(">=", 2)))
			var budgets int
			for _, p := range objects.PDBs {
				if selects(p.Spec.Selector, d.Spec.Template.Labels) {
					budgets++
					Expect(p.Spec.MaxUnavailable).To(HaveValue(Equal(intstr.FromInt32(1))), p.Name)
				}
			}
			Expect(budgets).To(Equal(1), "one PodDisruptionBudget covers the workers")
		})

		It("probes and scrapes the ops server on the routes and the port the binary serves", func() {
			w := running("run")
			Expect(listensBeyondLoopback(w.cfg.MetricsAddr)).To(BeTrue(), "METRICS_ADDR %s: the kubelet cannot reach loopback", w.cfg.MetricsAddr)
			port := portOf(w.cfg.MetricsAddr)
			Expect(port).To(Equal(portOf(defaults().MetricsAddr)), "the ops port is not the binary's default METRICS_ADDR port")
			probe(w.c, w.c.LivenessProbe, config.HealthzPath, port)
			probe(w.c, w.c.ReadinessProbe, config.ReadyzPath, port)
			Expect(w.tmpl.Annotations).To(And(
				HaveKeyWithValue("prometheus.io/scrape", "true"),
				HaveKeyWithValue("prometheus.io/port", strconv.Itoa(int(port))),
				HaveKeyWithValue("prometheus.io/path", config.MetricsPath)))
		})

		It("gives a stopping worker longer than SHUTDOWN_TIMEOUT and the ops server's close", func() {
			w := running("run")
			grace := w.tmpl.Spec.TerminationGracePeriodSeconds
			Expect(grace).NotTo(BeNil(), "terminationGracePeriodSeconds is not set (Kubernetes' default is 30 s)")
			Expect(time.Duration(*grace)*time.Second).To(BeNumerically(">=", w.cfg.ShutdownTimeout+shutdownDrain),
				"terminationGracePeriodSeconds %d against SHUTDOWN_TIMEOUT %s", *grace, w.cfg.ShutdownTimeout)
		})

		It("gets the Lighthouse identity, the databases and Redis from Secrets, the key as a mounted file", func() {
			w := running("run")
			for _, name := range []string{"DATABASE_URL", "REDIS_URL", "SIDEKIQ_REDIS_URL", "LIGHTHOUSE_CLIENT_ID"} {
				v, ok := kubelet.Lookup(w.env, name)
				Expect(ok).To(BeTrue(), "the worker needs %s", name)
				Expect(v.Source).To(Equal(kubelet.FromSecret), name)
			}
			files, err := kubelet.SecretFiles(&w.tmpl.Spec, w.c, placeholderSecrets(nowhere))
			Expect(err).NotTo(HaveOccurred())
			key, ok := kubelet.Lookup(w.env, "LIGHTHOUSE_RSA_KEY")
			Expect(ok).To(BeTrue(), "the worker needs LIGHTHOUSE_RSA_KEY")
			_, isFile := kubelet.SecretFileAt(files, key.Value)
			Expect(isFile).To(BeTrue(), "LIGHTHOUSE_RSA_KEY=%s is no file of a mounted Secret", key.Value)
			Expect(w.cfg.LighthouseConfigured()).To(BeTrue())
		})

		It("sends StatsD to the node's Datadog agent, with the pod's env and service tags", func() {
			w := running("run")
			Expect(w.cfg.StatsDAgentAddr()).To(Equal(net.JoinHostPort(w.pod.HostIP, "8125")), "STATSD_ADDR: DogStatsD on the node's address")
			host, ok := kubelet.Lookup(w.env, "DD_AGENT_HOST")
			Expect(ok).To(BeTrue())
			Expect(host.Source).To(Equal(kubelet.FromField))
			Expect(w.cfg.StatsDTagList()).To(ContainElements(
				"env:"+w.tmpl.Labels["tags.datadoghq.com/env"], "service:"+w.tmpl.Labels["tags.datadoghq.com/service"]))
			Expect(w.tmpl.Labels["tags.datadoghq.com/env"]).NotTo(BeEmpty())
		})

		It("migrates first, from an init container of the same image with the same database", func() {
			d, c := objects.DeploymentRunning("run")
			Expect(d).NotTo(BeNil())
			inits := d.Spec.Template.Spec.InitContainers
			Expect(inits).NotTo(BeEmpty())
			migrate := &inits[0]
			Expect(migrate.Args).To(HaveExactElements("migrate", "up"))
			Expect(migrate.Image).To(Equal(c.Image))
			Expect(dbSource(migrate)).To(Equal(dbSource(c)))
			Expect(dbSource(c)).NotTo(BeNil())
		})

		It("requests and limits memory from the measured peak RSS, with room for ten batches in flight", func() {
			_, c := objects.DeploymentRunning("run")
			Expect(c).NotTo(BeNil())
			request := c.Resources.Requests[corev1.ResourceMemory]
			limit := c.Resources.Limits[corev1.ResourceMemory]
			Expect(request.Cmp(*resource.NewQuantity(benchPeakRSS*3/2, resource.BinarySI))).To(BeNumerically(">=", 0),
				"memory request %s leaves under 50%% above the measured peak", request.String())
			Expect(limit.Cmp(*resource.NewQuantity(benchPeakRSS*3, resource.BinarySI))).To(BeNumerically(">=", 0),
				"memory limit %s is under three times the measured peak", limit.String())
		})
	})

	Context("the enqueue API", func() {
		It("verifies tokens with a key from a Secret, and is served, probed and scraped on the binary's ports", func() {
			a := running("api")
			Expect(a.cfg.RequireAPI()).To(Succeed())
			key, ok := kubelet.Lookup(a.env, "API_JWT_PUBLIC_KEY")
			Expect(ok).To(BeTrue())
			Expect(key.Source).To(Equal(kubelet.FromSecret))

			ops := portOf(a.cfg.MetricsAddr)
			Expect(listensBeyondLoopback(a.cfg.MetricsAddr)).To(BeTrue())
			probe(a.c, a.c.LivenessProbe, config.HealthzPath, ops)
			probe(a.c, a.c.ReadinessProbe, config.ReadyzPath, ops)
			Expect(listensBeyondLoopback(a.cfg.APIAddr)).To(BeTrue())
			Expect(portOf(a.cfg.APIAddr)).To(Equal(portOf(defaults().APIAddr)))
			Expect(servicePorts(a)).To(ConsistOf(portOf(a.cfg.APIAddr)), "the Service serves the API's port")
		})
	})

	Context("the monitor", func() {
		It("runs `worker monitor` on its own, authenticated by credentials from a Secret", func() {
			m := running("monitor")
			Expect(m.cfg.MonitorAuth).To(BeEmpty(), "MONITOR_AUTH=none serves it without authentication")
			Expect(m.cfg.RequireMonitor()).To(Succeed())
			for _, name := range []string{"MONITOR_USERNAME", "MONITOR_PASSWORD"} {
				v, ok := kubelet.Lookup(m.env, name)
				Expect(ok).To(BeTrue(), name)
				Expect(v.Source).To(Equal(kubelet.FromSecret), name)
			}
		})

		It("serves its UI on loopback only, through kubectl port-forward, and is probed on the ops port", func() {
			m := running("monitor")
			Expect(listensBeyondLoopback(m.cfg.MonitorAddr)).To(BeFalse(), "MONITOR_ADDR %s: the UI's credentials would cross the network in clear text", m.cfg.MonitorAddr)
			Expect(m.cfg.MonitorInsecure).To(BeFalse())
			Expect(portOf(m.cfg.MonitorAddr)).To(Equal(portOf(defaults().MonitorAddr)))
			Expect(m.c.Ports).NotTo(ContainElement(HaveField("ContainerPort", portOf(m.cfg.MonitorAddr))), "the UI's port is not the pod's")
			Expect(servicePorts(m)).To(BeEmpty(), "no Service reaches a loopback port")

			Expect(listensBeyondLoopback(m.cfg.MonitorOpsAddr)).To(BeTrue(), "MONITOR_OPS_ADDR: the kubelet cannot reach loopback")
			ops := portOf(m.cfg.MonitorOpsAddr)
			probe(m.c, m.c.LivenessProbe, config.HealthzPath, ops)
			probe(m.c, m.c.ReadinessProbe, config.ReadyzPath, ops)
		})
	})
})

// servicePorts lists the container ports the Services selecting d's pods
// send to.
func servicePorts(d deployment) []int32 {
	var out []int32
	for _, s := range objects.Services {
		if selects(&metav1.LabelSelector{MatchLabels: s.Spec.Selector}, d.tmpl.Labels) {
			for _, sp := range s.Spec.Ports {
				out = append(out, containerPort(d.c, sp.TargetPort))
			}
		}
	}
	return out
}

// expandedLater reports whether a variable of env references name.
func expandedLater(env []corev1.EnvVar, name string) bool {
	for _, e := range env {
		for _, ref := range kubelet.References(e.Value) {
			if ref == name {
				return true
			}
		}
	}
	return false
}

// matchingDeployment finds a Deployment whose pods sel selects.
func matchingDeployment(sel *metav1.LabelSelector) (string, bool) {
	for _, d := range objects.Deployments {
		if selects(sel, d.Spec.Template.Labels) {
			return d.Name, true
		}
	}
	return "", false
}

// dbSource is where a container's DATABASE_URL comes from.
func dbSource(c *corev1.Container) *corev1.SecretKeySelector {
	for _, e := range c.Env {
		if e.Name == "DATABASE_URL" && e.ValueFrom != nil {
			return e.ValueFrom.SecretKeyRef
		}
	}
	return nil
}
