package kubelet

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Source is where a variable of a container's environment came from.
type Source string

// The sources of a variable, in the order the environment is built.
const (
	FromImage         Source = "image"         // the image's ENV
	FromConfigMap     Source = "configMap"     // envFrom or configMapKeyRef
	FromSecret        Source = "secret"        // envFrom or secretKeyRef
	FromValue         Source = "value"         // a literal value, $(VAR) expanded
	FromField         Source = "field"         // fieldRef (downward API)
	FromResourceField Source = "resourceField" // resourceFieldRef
	FromService       Source = "serviceLinks"  // the kubernetes Service's variables
	fromNothing       Source = "(not set)"     // an optional reference that found nothing
)

// Var is one variable of a container's environment.
type Var struct {
	Name   string
	Value  string
	Source Source
}

// Pod is what the cluster knows of a pod that the manifests do not say: its
// name and addresses. The template gives the rest.
type Pod struct {
	Template  *corev1.PodTemplateSpec
	Name      string // metadata.name
	Namespace string // metadata.namespace
	UID       string // metadata.uid
	NodeName  string // spec.nodeName
	HostIP    string // status.hostIP, the node's address
	PodIP     string // status.podIP
}

// Sources holds what variables are read from besides the manifests'
// ConfigMaps: the Secrets (created outside the manifests: placeholders in
// specs), the image's own environment and the variables of the cluster's
// kubernetes Service.
type Sources struct {
	Manifests *Manifests
	Secrets   map[string]map[string][]byte // name → key → value
	ImageEnv  []string                     // KEY=value, as the image's ENV
	Service   []Var                        // KUBERNETES_SERVICE_HOST, ...
}

// KubernetesServiceVars are the variables every container gets of the
// cluster's kubernetes Service (the API server), even with
// enableServiceLinks false, for a service at host:443.
func KubernetesServiceVars(host string) []Var {
	tcp := "tcp://" + host + ":443"
	out := make([]Var, 0, 8)
	for _, kv := range [][2]string{
		{"KUBERNETES_SERVICE_HOST", host}, {"KUBERNETES_SERVICE_PORT", "443"},
		{"KUBERNETES_SERVICE_PORT_HTTPS", "443"}, {"KUBERNETES_PORT", tcp},
		{"KUBERNETES_PORT_443_TCP", tcp}, {"KUBERNETES_PORT_443_TCP_PROTO", "tcp"},
		{"KUBERNETES_PORT_443_TCP_PORT", "443"}, {"KUBERNETES_PORT_443_TCP_ADDR", host},
	} {
		out = append(out, Var{Name: kv[0], Value: kv[1], Source: FromService})
	}
	return out
}

// Environment builds container c's environment as the kubelet and the
// runtime do: envFrom sources in order, then env entries in order, each
// overriding a variable of the same name; a literal value has its $(VAR)
// references expanded against the variables built so far (never against
// later ones, nor the image's); the kubernetes Service's variables where
// nothing else set them; and under all of them the image's ENV. A
// reference to a Secret, ConfigMap or key that does not exist is an error
// (the kubelet would not start the container), unless it is optional.
func Environment(pod *Pod, c *corev1.Container, src *Sources) ([]Var, error) {
	var out []Var
	index := map[string]int{}
	set := func(v Var) {
		if i, ok := index[v.Name]; ok {
			out[i] = v
			return
		}
		index[v.Name] = len(out)
		out = append(out, v)
	}
	lookup := func(name string) (string, bool) {
		if i, ok := index[name]; ok {
			return out[i].Value, true
		}
		for _, s := range src.Service {
			if s.Name == name {
				return s.Value, true
			}
		}
		return "", false
	}

	for _, ef := range c.EnvFrom {
		data, source, err := src.envFrom(ef)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", c.Name, err)
		}
		for _, k := range sortedKeys(data) {
			set(Var{Name: ef.Prefix + k, Value: data[k], Source: source})
		}
	}
	for _, e := range c.Env {
		v, err := src.value(pod, c, e, lookup)
		if err != nil {
			return nil, fmt.Errorf("container %s, variable %s: %w", c.Name, e.Name, err)
		}
		if v.Source == fromNothing {
			continue
		}
		set(v)
	}
	for _, s := range src.Service {
		if _, ok := index[s.Name]; !ok {
			set(s)
		}
	}
	// The runtime starts from the image's ENV; the kubelet's variables win.
	var image []Var
	for _, kv := range src.ImageEnv {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := index[k]; !ok {
			image = append(image, Var{Name: k, Value: v, Source: FromImage})
		}
	}
	return append(image, out...), nil
}

// envFrom reads one envFrom source.
func (src *Sources) envFrom(ef corev1.EnvFromSource) (map[string]string, Source, error) {
	switch {
	case ef.ConfigMapRef != nil:
		cm, ok := src.Manifests.ConfigMap(ef.ConfigMapRef.Name)
		if !ok {
			if isTrue(ef.ConfigMapRef.Optional) {
				return nil, FromConfigMap, nil
			}
			return nil, "", fmt.Errorf("envFrom: no ConfigMap %q", ef.ConfigMapRef.Name)
		}
		return cm.Data, FromConfigMap, nil
	case ef.SecretRef != nil:
		s, ok := src.Secrets[ef.SecretRef.Name]
		if !ok {
			if isTrue(ef.SecretRef.Optional) {
				return nil, FromSecret, nil
			}
			return nil, "", fmt.Errorf("envFrom: no Secret %q", ef.SecretRef.Name)
		}
		data := make(map[string]string, len(s))
		for k, v := range s {
			data[k] = string(v)
		}
		return data, FromSecret, nil
	}
	return nil, "", fmt.Errorf("envFrom names neither a ConfigMap nor a Secret")
}

// value resolves one env entry.
func (src *Sources) value(pod *Pod, c *corev1.Container, e corev1.EnvVar, lookup func(string) (string, bool)) (Var, error) {
	v := Var{Name: e.Name}
	switch {
	case e.Value != "" || e.ValueFrom == nil:
		v.Value, v.Source = Expand(e.Value, lookup), FromValue
	case e.ValueFrom.FieldRef != nil:
		val, err := pod.field(e.ValueFrom.FieldRef.FieldPath)
		if err != nil {
			return v, err
		}
		v.Value, v.Source = val, FromField
	case e.ValueFrom.ResourceFieldRef != nil:
		val, err := pod.resourceField(c, e.ValueFrom.ResourceFieldRef)
		if err != nil {
			return v, err
		}
		v.Value, v.Source = val, FromResourceField
	case e.ValueFrom.ConfigMapKeyRef != nil:
		ref := e.ValueFrom.ConfigMapKeyRef
		v.Source = FromConfigMap
		cm, ok := src.Manifests.ConfigMap(ref.Name)
		val, found := "", false
		if ok {
			val, found = cm.Data[ref.Key]
		}
		if !found {
			if isTrue(ref.Optional) {
				v.Source = fromNothing
				return v, nil
			}
			return v, fmt.Errorf("configMapKeyRef: no key %q in ConfigMap %q", ref.Key, ref.Name)
		}
		v.Value = val
	case e.ValueFrom.SecretKeyRef != nil:
		ref := e.ValueFrom.SecretKeyRef
		v.Source = FromSecret
		val, found := src.Secrets[ref.Name][ref.Key]
		if !found {
			if isTrue(ref.Optional) {
				v.Source = fromNothing
				return v, nil
			}
			return v, fmt.Errorf("secretKeyRef: no key %q in Secret %q", ref.Key, ref.Name)
		}
		v.Value = string(val)
	default:
		return v, fmt.Errorf("valueFrom of a kind this package does not resolve")
	}
	return v, nil
}

// subscript is a downward API path with a key: metadata.labels['key'].
var subscript = regexp.MustCompile(`^(metadata\.(?:labels|annotations))\['([^']*)'\]$`)

// field is a fieldRef's value: the fields Kubernetes allows in env.
func (pod *Pod) field(path string) (string, error) {
	if m := subscript.FindStringSubmatch(path); m != nil {
		if m[1] == "metadata.labels" {
			return pod.Template.Labels[m[2]], nil
		}
		return pod.Template.Annotations[m[2]], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return pod.UID, nil
	case "spec.nodeName":
		return pod.NodeName, nil
	case "spec.serviceAccountName":
		if sa := pod.Template.Spec.ServiceAccountName; sa != "" {
			return sa, nil
		}
		return "default", nil
	case "status.hostIP", "status.hostIPs":
		return pod.HostIP, nil
	case "status.podIP", "status.podIPs":
		return pod.PodIP, nil
	}
	return "", fmt.Errorf("fieldRef %q: not a field the downward API gives a variable", path)
}

// resourceField is a resourceFieldRef's value: the container's request or
// limit divided by the divisor (1 by default), rounded up, as the kubelet
// computes it. A limit that is not set would be the node's allocatable
// amount: refused here, since no manifest should depend on the node.
func (pod *Pod) resourceField(self *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	c := self
	if ref.ContainerName != "" && ref.ContainerName != self.Name {
		c = nil
		for _, other := range AllContainers(&pod.Template.Spec) {
			if other.Name == ref.ContainerName {
				c = other
			}
		}
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef: no container %q in the pod", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("resourceFieldRef %q: not limits.<resource> or requests.<resource>", ref.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %q: container %s sets none (the kubelet would give the node's allocatable)", ref.Resource, c.Name)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if name == string(corev1.ResourceCPU) {
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}

// CommandLine is what the container runs: the container's command (else
// the image's entrypoint) and its args (else, when it sets no command, the
// image's cmd), each with $(VAR) expanded against the environment the
// kubelet built (not the image's ENV).
func CommandLine(c *corev1.Container, env []Var, imageEntrypoint, imageCmd []string) []string {
	lookup := func(name string) (string, bool) {
		for _, v := range env {
			if v.Name == name && v.Source != FromImage {
				return v.Value, true
			}
		}
		return "", false
	}
	command, args := imageEntrypoint, imageCmd
	if len(c.Command) > 0 {
		command, args = c.Command, nil
	}
	if len(c.Args) > 0 {
		args = c.Args
	}
	var out []string
	for _, a := range append(append([]string(nil), command...), args...) {
		out = append(out, Expand(a, lookup))
	}
	return out
}

// Environ is env as KEY=value entries.
func Environ(env []Var) []string {
	out := make([]string, 0, len(env))
	for _, v := range env {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// Lookup finds a variable by name.
func Lookup(env []Var, name string) (Var, bool) {
	for _, v := range env {
		if v.Name == name {
			return v, true
		}
	}
	return Var{}, false
}

func isTrue(b *bool) bool { return b != nil && *b }
