// Package kubelet does with the reference manifests what a cluster would:
// decode them strictly into the Kubernetes API's types, build a container's
// environment as the kubelet does (ConfigMaps, Secrets, the downward API,
// $(VAR) expansion), its command line, and the files of its Secret
// volumes. deploy/kubernetes runs the manifests' containers with them, and
// deploy/datadog reads what they send. Used by specs only: nothing the
// binary links imports it.
package kubelet

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Manifests holds the decoded objects by kind.
type Manifests struct {
	Deployments []*appsv1.Deployment
	Jobs        []*batchv1.Job
	ConfigMaps  []*corev1.ConfigMap
	Secrets     []*corev1.Secret
	Services    []*corev1.Service
	PDBs        []*policyv1.PodDisruptionBudget
}

// DecodeDir decodes every document of every *.yaml file in dir.
func DecodeDir(dir string) (*Manifests, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no manifests in %s", dir)
	}
	m := &Manifests{}
	for _, file := range files {
		b, err := os.ReadFile(file) //nolint:gosec // G304: the spec names the manifests directory
		if err != nil {
			return nil, err
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
		for n := 1; ; n++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			if err := m.Decode(doc); err != nil {
				return nil, fmt.Errorf("%s, document %d: %w", file, n, err)
			}
		}
	}
	return m, nil
}

// Decode decodes one document strictly into the API type of its kind and
// adds it: unknown fields and keys given twice are errors, as is a kind
// this package does not know.
func (m *Manifests) Decode(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return err
	}
	strict := func(obj any) error { return yaml.UnmarshalStrict(doc, obj) }
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		obj := &appsv1.Deployment{}
		m.Deployments = append(m.Deployments, obj)
		return strict(obj)
	case "batch/v1 Job":
		obj := &batchv1.Job{}
		m.Jobs = append(m.Jobs, obj)
		return strict(obj)
	case "v1 ConfigMap":
		obj := &corev1.ConfigMap{}
		m.ConfigMaps = append(m.ConfigMaps, obj)
		return strict(obj)
	case "v1 Secret":
		obj := &corev1.Secret{}
		m.Secrets = append(m.Secrets, obj)
		return strict(obj)
	case "v1 Service":
		obj := &corev1.Service{}
		m.Services = append(m.Services, obj)
		return strict(obj)
	case "policy/v1 PodDisruptionBudget":
		obj := &policyv1.PodDisruptionBudget{}
		m.PDBs = append(m.PDBs, obj)
		return strict(obj)
	default:
		return fmt.Errorf("kind %q of apiVersion %q: not one this package decodes (add it to Decode)", tm.Kind, tm.APIVersion)
	}
}

// ConfigMap is the ConfigMap called name.
func (m *Manifests) ConfigMap(name string) (*corev1.ConfigMap, bool) {
	for _, c := range m.ConfigMaps {
		if c.Name == name {
			return c, true
		}
	}
	return nil, false
}

// Pods lists the pod templates of every workload, by workload name
// ("Deployment <name>", "Job <name>").
func (m *Manifests) Pods() map[string]*corev1.PodTemplateSpec {
	out := map[string]*corev1.PodTemplateSpec{}
	for _, d := range m.Deployments {
		out["Deployment "+d.Name] = &d.Spec.Template
	}
	for _, j := range m.Jobs {
		out["Job "+j.Name] = &j.Spec.Template
	}
	return out
}

// DeploymentRunning is the Deployment whose main container runs the given
// subcommand of the worker (its first argument).
func (m *Manifests) DeploymentRunning(subcommand string) (*appsv1.Deployment, *corev1.Container) {
	for _, d := range m.Deployments {
		for i := range d.Spec.Template.Spec.Containers {
			c := &d.Spec.Template.Spec.Containers[i]
			if len(c.Args) > 0 && c.Args[0] == subcommand {
				return d, c
			}
		}
	}
	return nil, nil
}
