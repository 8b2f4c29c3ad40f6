package kubelet_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/vagov/lighthouse526/deploy/kubernetes/kubelet"
)

var _ = Describe("Expand", func() {
	known := func(name string) (string, bool) {
		v, ok := map[string]string{"HOST": "10.0.0.7", "EMPTY": ""}[name]
		return v, ok
	}
	DescribeTable("follows Kubernetes' rules",
		func(in, want string) { Expect(kubelet.Expand(in, known)).To(Equal(want)) },
		Entry("a known reference", "$(HOST):8125", "10.0.0.7:8125"),
		Entry("a known empty one", "a$(EMPTY)b", "ab"),
		Entry("an unknown one stays as written", "$(NOPE):8125", "$(NOPE):8125"),
		Entry("$$ escapes", "$$(HOST)", "$(HOST)"),
		Entry("$$$ then a reference", "$$$(HOST)", "$10.0.0.7"),
		Entry("a $ before anything else stays", "a$b $", "a$b $"),
		Entry("an unclosed reference stays", "$(HOST", "$(HOST"),
		Entry("two in a row", "$(HOST)$(HOST)", "10.0.0.710.0.0.7"),
	)

	It("lists the references it would replace, not the escaped ones", func() {
		Expect(kubelet.References("$(A):$$(B)-$(C")).To(Equal([]string{"A"}))
	})
})

var _ = Describe("Environment", func() {
	var (
		pod *kubelet.Pod
		src *kubelet.Sources
		c   *corev1.Container
	)

	BeforeEach(func() {
		m := &kubelet.Manifests{}
		Expect(m.Decode([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  A: from-map\n  B: from-map\n"))).To(Succeed())
		c = &corev1.Container{
			Name: "app",
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi"), corev1.ResourceCPU: resource.MustParse("500m")},
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
			},
		}
		pod = &kubelet.Pod{
			Template: &corev1.PodTemplateSpec{}, Name: "app-1", Namespace: "ns", HostIP: "10.0.0.7", PodIP: "10.1.0.9",
		}
		pod.Template.Labels = map[string]string{"tags.datadoghq.com/env": "prod"}
		pod.Template.Spec.Containers = []corev1.Container{*c}
		src = &kubelet.Sources{
			Manifests: m,
			Secrets:   map[string]map[string][]byte{"creds": {"PASSWORD": []byte("s3cret")}},
			ImageEnv:  []string{"A=from-image", "IMG=only-image"},
			Service:   kubelet.KubernetesServiceVars("172.20.0.1"),
		}
	})

	value := func(env []kubelet.Var, name string) string {
		v, ok := kubelet.Lookup(env, name)
		Expect(ok).To(BeTrue(), name)
		return v.Value
	}

	It("layers the image's ENV, envFrom, then env, each winning over the one before", func() {
		c.EnvFrom = []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}}
		c.Env = []corev1.EnvVar{{Name: "B", Value: "from-env"}}
		env, err := kubelet.Environment(pod, c, src)
		Expect(err).NotTo(HaveOccurred())
		Expect(value(env, "A")).To(Equal("from-map"))
		Expect(value(env, "B")).To(Equal("from-env"))
		Expect(value(env, "IMG")).To(Equal("only-image"))
		Expect(value(env, "KUBERNETES_SERVICE_HOST")).To(Equal("172.20.0.1"))
	})

	It("expands a value with the variables set before it only", func() {
		c.Env = []corev1.EnvVar{
			{Name: "EARLY", Value: "$(LATE)|$(IMG)|$(KUBERNETES_SERVICE_PORT)"},
			{Name: "HOST", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
			{Name: "ADDR", Value: "$(HOST):8125"},
			{Name: "LATE", Value: "late"},
			{Name: "SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "PASSWORD"}}},
			{Name: "LITERAL", Value: "$(SECRET)"},
		}
		env, err := kubelet.Environment(pod, c, src)
		Expect(err).NotTo(HaveOccurred())
		Expect(value(env, "EARLY")).To(Equal("$(LATE)|$(IMG)|443"), "not a later variable, nor the image's")
		Expect(value(env, "ADDR")).To(Equal("10.0.0.7:8125"))
		Expect(value(env, "LITERAL")).To(Equal("s3cret"))
	})

	It("gives the downward API's fields and the container's resources", func() {
		c.Env = []corev1.EnvVar{
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "DD_ENV", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['tags.datadoghq.com/env']"}}},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}},
			{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "CPU_M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("1m")}}},
		}
		env, err := kubelet.Environment(pod, c, src)
		Expect(err).NotTo(HaveOccurred())
		Expect(value(env, "POD")).To(Equal("app-1"))
		Expect(value(env, "DD_ENV")).To(Equal("prod"))
		Expect(value(env, "MEM")).To(Equal("134217728"))
		Expect(value(env, "MEM_MI")).To(Equal("64"))
		Expect(value(env, "CPU")).To(Equal("1"), "500m in cores, rounded up")
		Expect(value(env, "CPU_M")).To(Equal("500"))
	})

	DescribeTable("refuses what would keep the container from starting",
		func(e corev1.EnvVar, want string) {
			c.Env = []corev1.EnvVar{e}
			_, err := kubelet.Environment(pod, c, src)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("a Secret key that is not there", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "TOKEN"}}}, `no key "TOKEN" in Secret "creds"`),
		Entry("a ConfigMap that is not there", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}, Key: "A"}}}, `ConfigMap "other"`),
		Entry("a field the downward API does not give", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}, "not a field"),
		Entry("a limit the container does not set", corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.ephemeral-storage"}}}, "sets none"),
	)

	It("leaves out an optional reference that finds nothing", func() {
		yes := true
		c.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "TOKEN", Optional: &yes}}}}
		env, err := kubelet.Environment(pod, c, src)
		Expect(err).NotTo(HaveOccurred())
		_, ok := kubelet.Lookup(env, "X")
		Expect(ok).To(BeFalse())
	})
})

var _ = Describe("CommandLine", func() {
	env := []kubelet.Var{{Name: "SUB", Value: "run", Source: kubelet.FromValue}, {Name: "IMG", Value: "x", Source: kubelet.FromImage}}
	entrypoint, cmd := []string{"/usr/local/bin/worker"}, []string{"run"}

	It("runs the image's entrypoint and cmd when the container sets neither", func() {
		Expect(kubelet.CommandLine(&corev1.Container{}, env, entrypoint, cmd)).To(Equal([]string{"/usr/local/bin/worker", "run"}))
	})
	It("replaces the cmd with args, expanded with the kubelet's variables only", func() {
		c := &corev1.Container{Args: []string{"$(SUB)", "--no-scheduler", "$(IMG)"}}
		Expect(kubelet.CommandLine(c, env, entrypoint, cmd)).To(Equal([]string{"/usr/local/bin/worker", "run", "--no-scheduler", "$(IMG)"}))
	})
	It("drops the image's cmd with a command", func() {
		c := &corev1.Container{Command: []string{"/bin/other"}}
		Expect(kubelet.CommandLine(c, env, entrypoint, cmd)).To(Equal([]string{"/bin/other"}))
	})
})

var _ = Describe("SecretFiles", func() {
	It("writes each item at its path with the volume's mode, group-readable by fsGroup", func() {
		mode, fsGroup := int32(0o400), int64(10001)
		spec := &corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{FSGroup: &fsGroup},
			Volumes: []corev1.Volume{{Name: "key", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
				SecretName: "creds", DefaultMode: &mode, Items: []corev1.KeyToPath{{Key: "PASSWORD", Path: "pw.txt"}},
			}}}},
		}
		c := &corev1.Container{VolumeMounts: []corev1.VolumeMount{{Name: "key", MountPath: "/etc/app/"}}}
		files, err := kubelet.SecretFiles(spec, c, map[string]map[string][]byte{"creds": {"PASSWORD": []byte("s3cret")}})
		Expect(err).NotTo(HaveOccurred())
		Expect(files).To(HaveLen(1))
		Expect(files[0].Path).To(Equal("/etc/app/pw.txt"))
		Expect(files[0].Mode.Perm()).To(Equal(os.FileMode(0o440)))
		Expect(files[0].GID).To(Equal(fsGroup))
		f, ok := kubelet.SecretFileAt(files, "/etc/app/pw.txt")
		Expect(ok).To(BeTrue())
		Expect(string(f.Data)).To(Equal("s3cret"))
	})
})

var _ = Describe("ReadContainerfile", func() {
	It("reads ENV (continued lines), ENTRYPOINT, CMD and USER", func() {
		file := filepath.Join(GinkgoT().TempDir(), "Containerfile")
		Expect(os.WriteFile(file, []byte("FROM scratch\n# ENV NOT=this\nENV A=1 \\\n    B=two\nUSER 10001:10001\nENTRYPOINT [\"/w\"]\nCMD [\"run\"]\n"), 0o600)).To(Succeed())
		img, err := kubelet.ReadContainerfile(file)
		Expect(err).NotTo(HaveOccurred())
		Expect(img.Env).To(Equal([]string{"A=1", "B=two"}))
		Expect(img.Entrypoint).To(Equal([]string{"/w"}))
		Expect(img.Cmd).To(Equal([]string{"run"}))
		Expect(img.User).To(Equal("10001:10001"))
	})

	It("refuses a form it does not read rather than guess", func() {
		file := filepath.Join(GinkgoT().TempDir(), "Containerfile")
		Expect(os.WriteFile(file, []byte("ENTRYPOINT /w run\n"), 0o600)).To(Succeed())
		_, err := kubelet.ReadContainerfile(file)
		Expect(err).To(MatchError(ContainSubstring("exec-form")))
	})
})
