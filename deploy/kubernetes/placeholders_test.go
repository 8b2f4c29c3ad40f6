package kubernetes_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/deploy/kubernetes/kubelet"
)

// The Secrets the manifests reference are created outside them
// (docs/deployment.md, Kubernetes). The specs give them placeholder values
// of the form the real ones have: a generated 2048-bit RSA key in PEM, URLs
// with a user and password, monitor credentials config accepts.

// endpoints are where the placeholder URLs point: hosts that do not exist
// for the static specs, the spec's own Postgres and Redis for running them.
type endpoints struct {
	Postgres string // host:port
	Database string
	PGUser   string
	Redis    string // host:port
	RedisDB  int
	RedisACL string // the Redis user
	Password string // of the Postgres role and the Redis user
}

// nowhere are endpoints for specs that read settings and connect to nothing.
var nowhere = endpoints{
	Postgres: "vets-api-db.internal:5432", Database: "vets_api", PGUser: "lighthouse526",
	Redis: "lighthouse526-redis.internal:6379", RedisACL: "lighthouse526", Password: "placeholder-password",
}

// placeholderSecrets are the Secrets' placeholder values.
func placeholderSecrets(e endpoints) map[string]map[string][]byte {
	GinkgoHelper()
	pg := url.URL{Scheme: "postgres", User: url.UserPassword(e.PGUser, e.Password), Host: e.Postgres, Path: "/" + e.Database, RawQuery: "sslmode=disable"}
	redisURL := func(db int) string {
		u := url.URL{Scheme: "redis", User: url.UserPassword(e.RedisACL, e.Password), Host: e.Redis, Path: fmt.Sprintf("/%d", db)}
		return u.String()
	}
	return map[string]map[string][]byte{
		"lighthouse526": {
			"DATABASE_URL":           []byte(pg.String()),
			"REDIS_URL":              []byte(redisURL(e.RedisDB)),
			"SIDEKIQ_REDIS_URL":      []byte(redisURL(e.RedisDB)),
			"LIGHTHOUSE_CLIENT_ID":   []byte("0oa" + randomHex(8) + "2p7"),
			"lighthouse_rsa_key.pem": lighthouseKeyPEM,
		},
		"lighthouse526-monitor": {
			"MONITOR_USERNAME": []byte("ops"),
			"MONITOR_PASSWORD": []byte(randomHex(16)), // 32 characters
		},
		"lighthouse526-api": {
			"API_JWT_PUBLIC_KEY": apiPublicKeyPEM,
		},
	}
}

// The keys, generated once per process.
var lighthouseKeyPEM, apiPublicKeyPEM = func() ([]byte, []byte) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	apiKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&apiKey.PublicKey)
	if err != nil {
		panic(err)
	}
	return priv, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}()

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// podOf is the pod a workload's template becomes, at the given addresses:
// the node's (status.hostIP) and its own (status.podIP).
func podOf(workload string, tmpl *corev1.PodTemplateSpec, hostIP, podIP string) *kubelet.Pod {
	name := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(workload, "Deployment "), "Job "))
	return &kubelet.Pod{
		Template: tmpl, Name: name + "-6f7b69dc7b-x2kq9", Namespace: "lighthouse526",
		UID: "0b65fb30-8d3f-4e1a-9c55-" + randomHex(6), NodeName: "ip-10-0-12-34.ec2.internal",
		HostIP: hostIP, PodIP: podIP,
	}
}

// sources are the Secrets' placeholders, the image's ENV and the
// kubernetes Service's variables.
func sources(e endpoints) *kubelet.Sources {
	return &kubelet.Sources{
		Manifests: objects, Secrets: placeholderSecrets(e), ImageEnv: image.Env,
		Service: kubelet.KubernetesServiceVars("172.20.0.1"),
	}
}

// containerEnv is container c's environment in pod, with the placeholders
// of nowhere.
func containerEnv(pod *kubelet.Pod, c *corev1.Container) []kubelet.Var {
	GinkgoHelper()
	env, err := kubelet.Environment(pod, c, sources(nowhere))
	Expect(err).NotTo(HaveOccurred())
	return env
}

// loadConfig loads a container's settings through config, as the binary
// would: every variable, those from Secrets included; a path to a file of a
// mounted Secret volume is given as the file's text (config takes PEM text
// or a path), the file being out of reach of this process.
func loadConfig(pod *kubelet.Pod, c *corev1.Container, env []kubelet.Var) (*config.Config, error) {
	GinkgoHelper()
	files, err := kubelet.SecretFiles(&pod.Template.Spec, c, placeholderSecrets(nowhere))
	Expect(err).NotTo(HaveOccurred())
	environ := make([]string, 0, len(env))
	for _, v := range env {
		value := v.Value
		if f, ok := kubelet.SecretFileAt(files, value); ok {
			value = string(f.Data)
		}
		environ = append(environ, v.Name+"="+value)
	}
	cfg, err := config.Load(environ)
	if err != nil {
		return nil, fmt.Errorf("config refuses the manifest's settings: %w", err)
	}
	return cfg, nil
}

// staticPod is a workload's pod at made-up addresses.
func staticPod(workload string, tmpl *corev1.PodTemplateSpec) *kubelet.Pod {
	return podOf(workload, tmpl, "10.0.12.34", "10.0.13.57")
}
