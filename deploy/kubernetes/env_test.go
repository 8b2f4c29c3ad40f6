package kubernetes_test

import (
	"fmt"
	"path"
	"strings"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/vagov/lighthouse526/config"
)

// Where a container's variable comes from.
const (
	fromValue     = "value"
	fromConfigMap = "configMap"
	fromSecret    = "secret"
	fromField     = "field"
)

// envVar is one variable a container gets.
type envVar struct {
	name  string
	value string // for fromValue and fromConfigMap
	from  string
	// secretFile: the value is a path to a file of a mounted Secret volume.
	secretFile bool
}

// containerEnv resolves a container's environment as the kubelet would
// (env entries override envFrom ones), reading ConfigMaps from the
// manifests. envFrom a Secret is refused: it would hide which variables it
// sets.
func containerEnv(m *manifests, pod *corev1.PodSpec, c *corev1.Container) []envVar {
	byName := map[string]int{}
	var out []envVar
	set := func(v envVar) {
		if i, ok := byName[v.name]; ok {
			out[i] = v
			return
		}
		byName[v.name] = len(out)
		out = append(out, v)
	}
	for _, ef := range c.EnvFrom {
		Expect(ef.SecretRef).To(BeNil(), "container %s: envFrom a Secret hides which variables it sets; use secretKeyRef", c.Name)
		Expect(ef.Prefix).To(BeEmpty(), "container %s: envFrom with a prefix", c.Name)
		Expect(ef.ConfigMapRef).NotTo(BeNil())
		cm, ok := m.configMap(ef.ConfigMapRef.Name)
		Expect(ok).To(BeTrue(), "container %s: no ConfigMap %q among the manifests", c.Name, ef.ConfigMapRef.Name)
		for k, v := range cm.Data {
			set(envVar{name: k, value: v, from: fromConfigMap})
		}
	}
	for _, e := range c.Env {
		v := envVar{name: e.Name, value: e.Value, from: fromValue}
		switch {
		case e.ValueFrom == nil:
			v.secretFile = secretFile(pod, c, e.Value)
		case e.ValueFrom.SecretKeyRef != nil:
			v.from = fromSecret
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, ok := m.configMap(ref.Name)
			Expect(ok).To(BeTrue(), "container %s: no ConfigMap %q among the manifests", c.Name, ref.Name)
			Expect(cm.Data).To(HaveKey(ref.Key), "container %s: ConfigMap %s has no key %s", c.Name, ref.Name, ref.Key)
			v.from, v.value = fromConfigMap, cm.Data[ref.Key]
		default:
			v.from = fromField
		}
		set(v)
	}
	return out
}

// secretFile reports whether value is the path of a file that a Secret
// volume projects into the container.
func secretFile(pod *corev1.PodSpec, c *corev1.Container, value string) bool {
	if !path.IsAbs(value) {
		return false
	}
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(value, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, vol := range pod.Volumes {
			if vol.Name != vm.Name || vol.Secret == nil {
				continue
			}
			for _, item := range vol.Secret.Items {
				if item.Path == rel {
					return true
				}
			}
		}
	}
	return false
}

// loadConfig loads a container's settings through config, as the binary
// would, leaving out what comes from Secrets (config's defaults stand in).
func loadConfig(vars []envVar) (*config.Config, error) {
	var environ []string
	for _, v := range vars {
		if (v.from == fromValue || v.from == fromConfigMap) && !v.secretFile {
			environ = append(environ, v.name+"="+v.value)
		}
	}
	cfg, err := config.Load(environ)
	if err != nil {
		return nil, fmt.Errorf("config refuses the manifest's settings: %w", err)
	}
	return cfg, nil
}

// lookup finds a variable by name.
func lookup(vars []envVar, name string) (envVar, bool) {
	for _, v := range vars {
		if v.name == name {
			return v, true
		}
	}
	return envVar{}, false
}
