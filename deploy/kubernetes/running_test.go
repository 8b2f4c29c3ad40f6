package kubernetes_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/deploy/kubernetes/kubelet"
	"github.com/vagov/lighthouse526/vagov/statsd"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

// Bounded waits of a running container.
const (
	// An init container (worker migrate up on an empty database) exits.
	initWithin = 2 * time.Minute
	// A main container's readiness probe answers.
	readyWithin = time.Minute
)

// The manifests' containers run from the image's root filesystem, as the
// image's user, with the environment and command line the kubelet would
// give them, against the spec's Postgres and Redis.
//
// How the cluster is mapped onto this machine, where the pods share one
// network:
//   - each pod gets an address of its own, 198.18.B.1x (RFC 2544's range,
//     B picked at random per run), put on lo: its status.podIP; the node is
//     198.18.B.1, its status.hostIP, where a UDP socket stands in for the
//     Datadog agent's DogStatsD port 8125;
//   - a listen address on every interface (0.0.0.0:9464) is the pod's
//     address (198.18.B.11:9464), and one on loopback (127.0.0.1:9480) a
//     loopback address of the pod's own (127.77.B.11:9480): in a cluster each
//     pod has its own network namespace; the ports are the manifests';
//   - the Secrets' URLs point at the spec's Postgres and Redis, as a role and
//     an ACL user with a password, the role owning the database (not a
//     superuser).
var _ = Describe("The manifests, run as Kubernetes would run them", Ordered, ContinueOnFailure, func() {
	var (
		workdir string
		rootfs  string
		src     *kubelet.Sources
		net4    podNetwork
		agent   *statsdtest.Listener
	)

	BeforeAll(func(ctx SpecContext) {
		Expect(os.Geteuid()).To(BeZero(), "the containers run with chroot as the image's user, on addresses added to lo: this needs root (CI runs as root)")
		var err error
		workdir, err = os.MkdirTemp("", "lighthouse526-manifests-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, workdir)

		// The image's root filesystem, staged by the script `make image`
		// builds the image from: the production binary (no dev tag).
		rootfs = filepath.Join(workdir, "rootfs")
		stage := exec.CommandContext(ctx, "../../scripts/image.sh", "--rootfs", rootfs)
		stage.Env = append(os.Environ(), "VERSION=manifests-spec")
		out, err := stage.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "scripts/image.sh --rootfs:\n%s", out)

		net4 = newPodNetwork(ctx)
		agent, err = statsdtest.ListenOn(net.JoinHostPort(net4.hostIP, "8125"))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(agent.Close)

		src = &kubelet.Sources{
			Manifests: objects, Secrets: placeholderSecrets(serviceEndpoints(ctx)),
			ImageEnv: image.Env, Service: kubelet.KubernetesServiceVars("172.20.0.1"),
		}
	}, NodeTimeout(10*time.Minute))

	for i, sub := range []string{"run", "api", "monitor"} {
		It(fmt.Sprintf("starts the pod of `worker %s`: init containers exit 0, the main one answers its readiness probe, with the Go runtime at 90%% of its memory limit, and stops on SIGTERM", sub), func(ctx SpecContext) {
			d, main := objects.DeploymentRunning(sub)
			Expect(d).NotTo(BeNil(), "no Deployment runs `worker %s`", sub)
			p := &podRun{
				pod:     podOf("Deployment "+d.Name, &d.Spec.Template, net4.hostIP, net4.podIP(i)),
				loop:    net4.loopbackIP(i),
				src:     src,
				workdir: workdir,
			}
			p.root = p.stageRoot(ctx, rootfs)

			for j := range d.Spec.Template.Spec.InitContainers {
				c := &d.Spec.Template.Spec.InitContainers[j]
				s := p.start(c)
				Eventually(s).WithTimeout(initWithin).Should(gexec.Exit(0), "init container %s did not exit 0", c.Name)
			}
			s := p.start(main)
			body := p.waitReady(ctx, s, main)
			Expect(body).NotTo(BeEmpty())

			// The Go runtime's memory limit, as the process reports it.
			limit := main.Resources.Limits[corev1.ResourceMemory]
			Expect(p.gauge(ctx, main, "go_gc_gomemlimit_bytes")).To(Equal(float64(limit.Value()*config.GoMemLimitPercent/100)),
				"the runtime's soft memory limit is not %d%% of the container's %s", config.GoMemLimitPercent, limit.String())

			if sub == "run" {
				// The scheduler's catch-up cycle at start finds nothing due
				// and sends the cycle's gauges: to the node's agent, with the
				// pod's unified service tags.
				labels := d.Spec.Template.Labels
				Eventually(agent.Lines).WithTimeout(30*time.Second).Should(ContainElement(And(
					HavePrefix(statsd.KeyPendingDocumentsPolled+":0|g|#"),
					ContainSubstring("env:"+labels["tags.datadoghq.com/env"]),
					ContainSubstring("service:"+labels["tags.datadoghq.com/service"]))),
					"no StatsD gauge with the pod's tags reached the node's agent at %s", agent.Addr())
				errs := string(s.Err.Contents())
				Expect(errs).NotTo(ContainSubstring("STATSD_ADDR is not set"))
				Expect(errs).NotTo(ContainSubstring("StatsD address does not resolve"))
			}

			// Stopped as a rollout stops it: SIGTERM, then the grace period.
			grace := time.Duration(30) * time.Second
			if g := d.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
				grace = time.Duration(*g) * time.Second
			}
			s.Terminate()
			Eventually(s).WithTimeout(grace).Should(gexec.Exit(0), "container %s did not stop within the grace period", main.Name)
		}, SpecTimeout(5*time.Minute))
	}
})

// podNetwork is the spec's stand-in for the cluster's addresses.
type podNetwork struct {
	block  int    // B of 198.18.B.x and 127.77.B.x
	hostIP string // the node's
}

func (n podNetwork) podIP(i int) string      { return fmt.Sprintf("198.18.%d.%d", n.block, 11+i) }
func (n podNetwork) loopbackIP(i int) string { return fmt.Sprintf("127.77.%d.%d", n.block, 11+i) }

// newPodNetwork puts the node's and three pods' addresses on lo, in a block
// no other run holds, and takes them off when the specs end.
func newPodNetwork(ctx context.Context) podNetwork {
	GinkgoHelper()
	for range 20 {
		b, err := rand.Int(rand.Reader, big.NewInt(256))
		Expect(err).NotTo(HaveOccurred())
		n := podNetwork{block: int(b.Int64())}
		n.hostIP = fmt.Sprintf("198.18.%d.1", n.block)
		addrs := []string{n.hostIP, n.podIP(0), n.podIP(1), n.podIP(2)}
		var added []string
		taken := false
		for _, a := range addrs {
			out, err := exec.CommandContext(ctx, "ip", "addr", "add", a+"/32", "dev", "lo").CombinedOutput()
			if err != nil {
				Expect(string(out)).To(ContainSubstring("exists"), "ip addr add %s: %s", a, out)
				taken = true
				break
			}
			added = append(added, a)
		}
		DeferCleanup(func(ctx SpecContext) {
			for _, a := range added {
				out, err := exec.CommandContext(ctx, "ip", "addr", "del", a+"/32", "dev", "lo").CombinedOutput()
				Expect(err).NotTo(HaveOccurred(), "ip addr del %s: %s", a, out)
			}
		})
		if !taken {
			return n
		}
	}
	Fail("no free block of 198.18.0.0/16 on lo in 20 tries")
	return podNetwork{}
}

// serviceEndpoints makes the Postgres role and database and the Redis ACL
// user the placeholder URLs name, removed when the specs end.
func serviceEndpoints(ctx context.Context) endpoints {
	GinkgoHelper()
	admin, err := url.Parse(dbtest.AdminURL())
	Expect(err).NotTo(HaveOccurred())
	e := endpoints{
		Postgres: admin.Host, Database: fmt.Sprintf("lh526_test_manifests_%d", GinkgoParallelProcess()),
		PGUser: fmt.Sprintf("lh526_manifests_%d", GinkgoParallelProcess()),
		Redis:  dbtest.RedisAddr(), RedisDB: dbtest.RedisDBManifests,
		RedisACL: fmt.Sprintf("lh526-manifests-%d", GinkgoParallelProcess()), Password: randomHex(16),
	}

	gdb, err := db.Open(ctx, db.Options{URL: dbtest.AdminURL(), MaxOpenConns: 1})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(db.Close, gdb)
	drop := func() {
		Expect(gdb.Exec(`DROP DATABASE IF EXISTS "` + e.Database + `" WITH (FORCE)`).Error).To(Succeed())
		Expect(gdb.Exec(`DROP ROLE IF EXISTS "` + e.PGUser + `"`).Error).To(Succeed())
	}
	drop()
	Expect(gdb.Exec(`CREATE ROLE "` + e.PGUser + `" LOGIN PASSWORD '` + e.Password + `'`).Error).To(Succeed())
	Expect(gdb.Exec(`CREATE DATABASE "` + e.Database + `" OWNER "` + e.PGUser + `"`).Error).To(Succeed())
	DeferCleanup(drop)

	rdb := redis.NewClient(&redis.Options{Addr: e.Redis, DB: e.RedisDB})
	DeferCleanup(rdb.Close)
	Expect(rdb.Do(ctx, "ACL", "SETUSER", e.RedisACL, "reset", "on", ">"+e.Password, "~*", "&*", "+@all").Err()).To(Succeed())
	DeferCleanup(func(ctx SpecContext) {
		Expect(rdb.Do(ctx, "ACL", "DELUSER", e.RedisACL).Err()).To(Succeed())
		cm, ok := objects.ConfigMap("lighthouse526")
		Expect(ok).To(BeTrue())
		queue := cm.Data["QUEUE_NAME"]
		for _, pattern := range []string{"asynq:{" + queue + "}:*", defaults().RedisKeyPrefix + "*"} {
			keys, err := rdb.Keys(ctx, pattern).Result()
			Expect(err).NotTo(HaveOccurred())
			if len(keys) > 0 {
				Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
			}
		}
		Expect(rdb.SRem(ctx, "asynq:queues", queue).Err()).To(Succeed())
	})
	return e
}

// podRun is one pod of the spec: its root filesystem and its containers.
type podRun struct {
	pod     *kubelet.Pod
	loop    string // the pod's own loopback address
	src     *kubelet.Sources
	workdir string
	root    string
}

// stageRoot makes the pod's root filesystem: the image's, hard-linked, with
// the files of the Secret volumes its containers mount, as the kubelet
// writes them (owner root, group fsGroup, the volume's mode).
func (p *podRun) stageRoot(ctx context.Context, rootfs string) string {
	GinkgoHelper()
	root := filepath.Join(p.workdir, p.pod.Name)
	out, err := exec.CommandContext(ctx, "cp", "-a", "--link", rootfs, root).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "cp: %s", out)
	for _, c := range kubelet.AllContainers(&p.pod.Template.Spec) {
		files, err := kubelet.SecretFiles(&p.pod.Template.Spec, c, p.src.Secrets)
		Expect(err).NotTo(HaveOccurred())
		for _, f := range files {
			path := filepath.Join(root, f.Path)
			Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
			Expect(os.WriteFile(path, f.Data, 0o600)).To(Succeed())
			Expect(os.Chown(path, 0, int(max(f.GID, 0)))).To(Succeed())
			Expect(os.Chmod(path, f.Mode)).To(Succeed())
		}
	}
	return root
}

// start runs container c of the pod: its command line in the pod's root
// filesystem, as the pod's user (with fsGroup among its groups), with the
// kubelet's environment (listen addresses mapped, see above) and the
// runtime's HOSTNAME. It is killed, if still running, when the spec ends.
func (p *podRun) start(c *corev1.Container) *gexec.Session {
	GinkgoHelper()
	env, err := kubelet.Environment(p.pod, c, p.src)
	Expect(err).NotTo(HaveOccurred())
	env = p.mapAddresses(env)
	argv := kubelet.CommandLine(c, env, image.Entrypoint, image.Cmd)
	Expect(argv).NotTo(BeEmpty())

	sc := p.pod.Template.Spec.SecurityContext
	Expect(sc).NotTo(BeNil())
	Expect(sc.RunAsUser).NotTo(BeNil())
	Expect(sc.RunAsGroup).NotTo(BeNil())
	user := fmt.Sprintf("--userspec=%d:%d", *sc.RunAsUser, *sc.RunAsGroup)
	groups := []string{strconv.FormatInt(*sc.RunAsGroup, 10)}
	if sc.FSGroup != nil {
		groups = append(groups, strconv.FormatInt(*sc.FSGroup, 10))
	}
	chroot, err := exec.LookPath("chroot")
	if err != nil {
		chroot = "/usr/sbin/chroot"
	}
	cmd := exec.Command(chroot, append([]string{user, "--groups=" + strings.Join(groups, ","), p.root}, argv...)...)
	cmd.Env = append([]string{"HOSTNAME=" + p.pod.Name}, kubelet.Environ(env)...)
	fmt.Fprintf(GinkgoWriter, "pod %s, container %s: %v\n", p.pod.Name, c.Name, argv)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		if s.ExitCode() == -1 {
			s.Kill()
			Eventually(s).WithTimeout(10 * time.Second).Should(gexec.Exit())
		}
	})
	return s
}

// mapAddresses gives each listen address the pod's address: one on every
// interface gets the pod's IP, one on loopback the pod's own loopback
// address (see the Describe's comment).
func (p *podRun) mapAddresses(env []kubelet.Var) []kubelet.Var {
	out := make([]kubelet.Var, len(env))
	for i, v := range env {
		out[i] = v
		host, port, err := net.SplitHostPort(v.Value)
		if err != nil || port == "" {
			continue
		}
		switch host {
		case "", "0.0.0.0", "::":
			out[i].Value = net.JoinHostPort(p.pod.PodIP, port)
		case "127.0.0.1", "::1", "localhost":
			out[i].Value = net.JoinHostPort(p.loop, port)
		}
	}
	return out
}

// probeURL is the URL the kubelet calls for an HTTP probe of c.
func (p *podRun) probeURL(c *corev1.Container, get *corev1.HTTPGetAction) string {
	scheme := strings.ToLower(string(get.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	host := get.Host
	if host == "" {
		host = p.pod.PodIP
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(containerPort(c, get.Port)))) + get.Path
}

// waitReady waits, within readyWithin, for c's readiness probe to answer as
// the kubelet counts success (2xx or 3xx), and returns the answer's body. A
// container that exits first fails at once.
func (p *podRun) waitReady(ctx context.Context, s *gexec.Session, c *corev1.Container) string {
	GinkgoHelper()
	Expect(c.ReadinessProbe).NotTo(BeNil(), "container %s has no readiness probe", c.Name)
	Expect(c.ReadinessProbe.HTTPGet).NotTo(BeNil(), "container %s: readiness probe is not httpGet", c.Name)
	u := p.probeURL(c, c.ReadinessProbe.HTTPGet)
	client := &http.Client{Timeout: 5 * time.Second}
	var body string
	Eventually(func(g Gomega) int {
		if code := s.ExitCode(); code != -1 {
			StopTrying(fmt.Sprintf("container %s exited with %d before its readiness probe (%s) answered:\n%s", c.Name, code, u, s.Err.Contents())).Now()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		g.Expect(err).NotTo(HaveOccurred())
		req.Header.Set("User-Agent", "kube-probe/1.33")
		resp, err := client.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		g.Expect(err).NotTo(HaveOccurred())
		body = string(b)
		return resp.StatusCode
	}).WithTimeout(readyWithin).WithPolling(250*time.Millisecond).Should(
		And(BeNumerically(">=", 200), BeNumerically("<", 400)), "container %s: readiness probe %s never answered", c.Name, u)
	Expect(c.ReadinessProbe.HTTPGet.Path).To(Equal(config.ReadyzPath), "container %s is ready by its probe, which is not the binary's readiness route", c.Name)
	return body
}

// gauge reads a gauge from the /metrics of the port c's readiness probe
// calls (every subcommand serves its metrics beside /readyz).
func (p *podRun) gauge(ctx context.Context, c *corev1.Container, name string) (float64, error) {
	get := *c.ReadinessProbe.HTTPGet
	get.Path = config.MetricsPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.probeURL(c, &get), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	f, ok := families[name]
	if !ok || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetGauge() == nil {
		return 0, errors.New("no gauge " + name + " on " + get.Path)
	}
	return f.GetMetric()[0].GetGauge().GetValue(), nil
}
