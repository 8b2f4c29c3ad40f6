package kubelet

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// File is one file a Secret volume projects into a container.
type File struct {
	Path string // absolute, inside the container
	Data []byte
	Mode fs.FileMode
	// GID owns the file when the pod sets fsGroup (-1: root's group).
	GID int64
}

// defaultSecretMode is a Secret volume's defaultMode when none is given.
const defaultSecretMode = 0o644

// SecretFiles lists the files of the Secret volumes container c mounts, as
// the kubelet writes them: each item's key at its path under the mount
// (every key of the Secret without items), with the item's mode or the
// volume's defaultMode, and with fsGroup, group-owned by it and readable by
// the group. A missing Secret or key is an error unless optional.
func SecretFiles(spec *corev1.PodSpec, c *corev1.Container, secrets map[string]map[string][]byte) ([]File, error) {
	var out []File
	for _, vm := range c.VolumeMounts {
		i := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name })
		if i < 0 {
			return nil, fmt.Errorf("container %s mounts volume %q, which the pod does not have", c.Name, vm.Name)
		}
		vol := spec.Volumes[i].Secret
		if vol == nil {
			continue
		}
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			return nil, fmt.Errorf("container %s: subPath mounts of Secret volumes are not updated by the kubelet; mount the volume", c.Name)
		}
		data, ok := secrets[vol.SecretName]
		if !ok && !isTrue(vol.Optional) {
			return nil, fmt.Errorf("volume %s: no Secret %q", vm.Name, vol.SecretName)
		}
		mode := fs.FileMode(defaultSecretMode)
		if vol.DefaultMode != nil {
			mode = fs.FileMode(*vol.DefaultMode)
		}
		items := vol.Items
		if len(items) == 0 {
			for _, k := range sortedKeys(data) {
				items = append(items, corev1.KeyToPath{Key: k, Path: k})
			}
		}
		for _, it := range items {
			b, ok := data[it.Key]
			if !ok {
				if isTrue(vol.Optional) {
					continue
				}
				return nil, fmt.Errorf("volume %s: no key %q in Secret %q", vm.Name, it.Key, vol.SecretName)
			}
			f := File{Path: path.Join(vm.MountPath, it.Path), Data: b, Mode: mode, GID: -1}
			if it.Mode != nil {
				f.Mode = fs.FileMode(*it.Mode)
			}
			if sc := spec.SecurityContext; sc != nil && sc.FSGroup != nil {
				f.GID, f.Mode = *sc.FSGroup, f.Mode|0o440
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// SecretFileAt is the file of files at p, if any.
func SecretFileAt(files []File, p string) (File, bool) {
	for _, f := range files {
		if f.Path == path.Clean(p) && strings.HasPrefix(p, "/") {
			return f, true
		}
	}
	return File{}, false
}

// AllContainers lists a pod's init and main containers, in the order they
// start.
func AllContainers(spec *corev1.PodSpec) []*corev1.Container {
	var out []*corev1.Container
	for i := range spec.InitContainers {
		out = append(out, &spec.InitContainers[i])
	}
	for i := range spec.Containers {
		out = append(out, &spec.Containers[i])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
