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
	b, err := os.ReadFile("../../Containerfile")
	Expect(err).NotTo(HaveOccurred())
	m := regexp.MustCompile(`(?m)^USER ([0-9]+):([0-9]+)$`).FindSubmatch(b)
	Expect(m).NotTo(BeNil(), "the Containerfile has no numeric USER uid:gid line")
	uid, err = strconv.ParseInt(string(m[1]), 10, 64)
	Expect(err).NotTo(HaveOccurred())
	gid, err = strconv.ParseInt(string(m[2]), 10, 64)
	Expect(err).NotTo(HaveOccurred())
	return uid, gid
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

var _ = Describe("The Kubernetes reference deployment", func() {
	It("decodes strictly into the API types, refusing an unknown field", func() {
		Expect(objects.Deployments).To(HaveLen(2))
		Expect(objects.ConfigMaps).To(HaveLen(1))
		Expect(objects.PDBs).To(HaveLen(1))

		err := (&manifests{}).decode([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndatum:\n  A: b\n"))
		Expect(err).To(MatchError(ContainSubstring(`unknown field "datum"`)))
		err = (&manifests{}).decode([]byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n"))
		Expect(err).To(MatchError(ContainSubstring("not one this spec decodes")))
	})

	It("sets only variables config reads", func() {
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
		for workload, pod := range objects.pods() {
			for _, c := range allContainers(&pod.Spec) {
				for _, v := range containerEnv(objects, &pod.Spec, c) {
					if !known[v.name] {
						unknown = append(unknown, workload+", container "+c.Name+": "+v.name)
					}
				}
			}
		}
		sort.Strings(unknown)
		Expect(unknown).To(BeEmpty(), "variables config does not read")
	})

	It("takes every secret from a Secret, never from a literal or a ConfigMap", func() {
		Expect(objects.Secrets).To(BeEmpty(), "Secrets are created outside the manifests (README, Kubernetes)")
		var leaks []string
		for _, cm := range objects.ConfigMaps {
			for k := range cm.Data {
				if config.IsSecret(k) {
					leaks = append(leaks, "ConfigMap "+cm.Name+": "+k)
				}
			}
		}
		for workload, pod := range objects.pods() {
			for _, c := range allContainers(&pod.Spec) {
				for _, v := range containerEnv(objects, &pod.Spec, c) {
					if config.IsSecret(v.name) && v.from != fromSecret && !v.secretFile {
						leaks = append(leaks, fmt.Sprintf("%s, container %s: %s from %s", workload, c.Name, v.name, v.from))
					}
				}
			}
		}
		sort.Strings(leaks)
		Expect(leaks).To(BeEmpty(), "secrets not from a Secret")
	})

	It("gives every container settings that config accepts", func() {
		for workload, pod := range objects.pods() {
			for _, c := range allContainers(&pod.Spec) {
				_, err := loadConfig(containerEnv(objects, &pod.Spec, c))
				Expect(err).NotTo(HaveOccurred(), "%s, container %s", workload, c.Name)
			}
		}
	})

	It("hardens every pod and container, running them as the image's non-root user", func() {
		uid, gid := imageUser()
		for workload, pod := range objects.pods() {
			spec := &pod.Spec
			Expect(spec.AutomountServiceAccountToken).To(HaveValue(BeFalse()), workload)
			sc := spec.SecurityContext
			Expect(sc).NotTo(BeNil(), workload)
			Expect(sc.RunAsNonRoot).To(HaveValue(BeTrue()), workload)
			Expect(sc.RunAsUser).To(HaveValue(Equal(uid)), "%s: runAsUser is not the image's USER", workload)
			Expect(sc.RunAsGroup).To(HaveValue(Equal(gid)), "%s: runAsGroup is not the image's USER", workload)
			Expect(sc.SeccompProfile).NotTo(BeNil(), workload)
			Expect(sc.SeccompProfile.Type).To(Equal(corev1.SeccompProfileTypeRuntimeDefault), workload)
			for _, c := range allContainers(spec) {
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
			d, _ := objects.deploymentRunning("run")
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
			d, c := objects.deploymentRunning("run")
			Expect(d).NotTo(BeNil())
			cfg, err := loadConfig(containerEnv(objects, &d.Spec.Template.Spec, c))
			Expect(err).NotTo(HaveOccurred())
			Expect(listensBeyondLoopback(cfg.MetricsAddr)).To(BeTrue(), "METRICS_ADDR %s: the kubelet cannot reach loopback", cfg.MetricsAddr)
			port := portOf(cfg.MetricsAddr)
			Expect(port).To(Equal(portOf(defaults().MetricsAddr)), "the ops port is not the binary's default METRICS_ADDR port")

			Expect(c.LivenessProbe).NotTo(BeNil())
			Expect(c.LivenessProbe.HTTPGet).NotTo(BeNil())
			Expect(c.LivenessProbe.HTTPGet.Path).To(Equal(config.HealthzPath), "liveness probe path: not the binary's health route")
			Expect(containerPort(c, c.LivenessProbe.HTTPGet.Port)).To(Equal(port), "liveness probe port")
			Expect(c.ReadinessProbe).NotTo(BeNil())
			Expect(c.ReadinessProbe.HTTPGet).NotTo(BeNil())
			Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal(config.ReadyzPath), "readiness probe path: not the binary's readiness route")
			Expect(containerPort(c, c.ReadinessProbe.HTTPGet.Port)).To(Equal(port), "readiness probe port")

			Expect(d.Spec.Template.Annotations).To(And(
				HaveKeyWithValue("prometheus.io/scrape", "true"),
				HaveKeyWithValue("prometheus.io/port", strconv.Itoa(int(port))),
				HaveKeyWithValue("prometheus.io/path", config.MetricsPath)))
		})

		It("gives a stopping worker longer than SHUTDOWN_TIMEOUT and the ops server's close", func() {
			d, c := objects.deploymentRunning("run")
			Expect(d).NotTo(BeNil())
			cfg, err := loadConfig(containerEnv(objects, &d.Spec.Template.Spec, c))
			Expect(err).NotTo(HaveOccurred())
			grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
			Expect(grace).NotTo(BeNil(), "terminationGracePeriodSeconds is not set (Kubernetes' default is 30 s)")
			Expect(time.Duration(*grace)*time.Second).To(BeNumerically(">=", cfg.ShutdownTimeout+shutdownDrain),
				"terminationGracePeriodSeconds %d against SHUTDOWN_TIMEOUT %s", *grace, cfg.ShutdownTimeout)
		})

		It("gets the Lighthouse identity, the database and Redis from Secrets, the key as a mounted file", func() {
			d, c := objects.deploymentRunning("run")
			Expect(d).NotTo(BeNil())
			vars := containerEnv(objects, &d.Spec.Template.Spec, c)
			for _, name := range []string{"DATABASE_URL", "REDIS_URL", "LIGHTHOUSE_CLIENT_ID"} {
				v, ok := lookup(vars, name)
				Expect(ok).To(BeTrue(), "the worker needs %s", name)
				Expect(v.from).To(Equal(fromSecret), name)
			}
			key, ok := lookup(vars, "LIGHTHOUSE_RSA_KEY")
			Expect(ok).To(BeTrue(), "the worker needs LIGHTHOUSE_RSA_KEY")
			Expect(key.secretFile).To(BeTrue(), "LIGHTHOUSE_RSA_KEY=%s is no file of a mounted Secret", key.value)
		})

		It("migrates first, from an init container of the same image with the same database", func() {
			d, c := objects.deploymentRunning("run")
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
			d, c := objects.deploymentRunning("run")
			Expect(d).NotTo(BeNil())
			request := c.Resources.Requests[corev1.ResourceMemory]
			limit := c.Resources.Limits[corev1.ResourceMemory]
			Expect(request.Cmp(*resource.NewQuantity(benchPeakRSS*3/2, resource.BinarySI))).To(BeNumerically(">=", 0),
				"memory request %s leaves under 50%% above the measured peak", request.String())
			Expect(limit.Cmp(*resource.NewQuantity(benchPeakRSS*3, resource.BinarySI))).To(BeNumerically(">=", 0),
				"memory limit %s is under three times the measured peak", limit.String())
		})
	})

	Context("the monitor", func() {
		It("runs `worker monitor` on its own, authenticated by credentials from a Secret", func() {
			d, c := objects.deploymentRunning("monitor")
			Expect(d).NotTo(BeNil(), "no Deployment runs `worker monitor`")
			vars := containerEnv(objects, &d.Spec.Template.Spec, c)
			_, none := lookup(vars, "MONITOR_AUTH")
			Expect(none).To(BeFalse(), "MONITOR_AUTH=none serves it without authentication")
			password, withPassword := lookup(vars, "MONITOR_PASSWORD")
			token, withToken := lookup(vars, "MONITOR_TOKEN")
			Expect(withPassword || withToken).To(BeTrue(), "the monitor needs MONITOR_PASSWORD or MONITOR_TOKEN")
			if withPassword {
				Expect(password.from).To(Equal(fromSecret))
				user, ok := lookup(vars, "MONITOR_USERNAME")
				Expect(ok).To(BeTrue())
				Expect(user.from).To(Equal(fromSecret))
			}
			if withToken {
				Expect(token.from).To(Equal(fromSecret))
			}
		})

		It("is probed and served on the monitor's health route and port", func() {
			d, c := objects.deploymentRunning("monitor")
			Expect(d).NotTo(BeNil())
			cfg, err := loadConfig(containerEnv(objects, &d.Spec.Template.Spec, c))
			Expect(err).NotTo(HaveOccurred())
			Expect(listensBeyondLoopback(cfg.MonitorAddr)).To(BeTrue(), "MONITOR_ADDR %s", cfg.MonitorAddr)
			port := portOf(cfg.MonitorAddr)
			Expect(port).To(Equal(portOf(defaults().MonitorAddr)), "the monitor's port is not the binary's default MONITOR_ADDR port")
			for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
				Expect(p).NotTo(BeNil())
				Expect(p.HTTPGet).NotTo(BeNil())
				Expect(p.HTTPGet.Path).To(Equal(config.HealthzPath), "monitor probe path: not the binary's health route")
				Expect(containerPort(c, p.HTTPGet.Port)).To(Equal(port), "monitor probe port")
			}
			var served bool
			for _, s := range objects.Services {
				if selects(&metav1.LabelSelector{MatchLabels: s.Spec.Selector}, d.Spec.Template.Labels) {
					for _, sp := range s.Spec.Ports {
						Expect(containerPort(c, sp.TargetPort)).To(Equal(port), "Service %s", s.Name)
						served = true
					}
				}
			}
			Expect(served).To(BeTrue(), "no Service serves the monitor")
		})
	})
})

// allContainers lists a pod's init and main containers.
func allContainers(spec *corev1.PodSpec) []*corev1.Container {
	var out []*corev1.Container
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
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
