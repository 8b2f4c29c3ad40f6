package image_test

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/deploy/kubernetes/kubelet"
)

// binaryPath is where the image keeps the worker, its entrypoint.
const binaryPath = "/usr/local/bin/worker"

// hostZoneinfo is the Debian host's time-zone data, which the image copies
// without the leap-second variants (right/), the legacy posix/ aliases and
// the host's own localtime link.
const hostZoneinfo = "/usr/share/zoneinfo"

var zoneinfoLeftOut = map[string]bool{"right": true, "posix": true, "localtime": true}

// everythingElse is every entry of the image outside the time-zone data.
var everythingElse = map[string]string{
	"etc/":                              "dir",
	"etc/group":                         "file",
	"etc/passwd":                        "file",
	"etc/ssl/":                          "dir",
	"etc/ssl/certs/":                    "dir",
	"etc/ssl/certs/ca-certificates.crt": "file",
	"usr/":                              "dir",
	"usr/local/":                        "dir",
	"usr/local/bin/":                    "dir",
	"usr/local/bin/worker":              "file",
	"usr/share/":                        "dir",
	"usr/share/zoneinfo/":               "dir",
}

// expectedEntries is every entry the image should hold, each with its kind
// ("dir", "file" or "-> target" for a symbolic link).
func expectedEntries() map[string]string {
	want := map[string]string{}
	for name, kind := range everythingElse {
		want[name] = kind
	}
	err := filepath.WalkDir(hostZoneinfo, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == hostZoneinfo {
			return err
		}
		rel, err := filepath.Rel(hostZoneinfo, path)
		if err != nil {
			return err
		}
		if zoneinfoLeftOut[rel] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		name := "usr/share/zoneinfo/" + rel
		switch {
		case d.IsDir():
			want[name+"/"] = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			want[name] = "-> " + target
		default:
			want[name] = "file"
		}
		return nil
	})
	Expect(err).NotTo(HaveOccurred())
	return want
}

func kindOf(h *tar.Header) string {
	switch h.Typeflag {
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "-> " + h.Linkname
	case tar.TypeReg:
		return "file"
	default:
		return "type " + string(h.Typeflag)
	}
}

// difference lists the entries of a whose kind b lacks or disagrees on.
func difference(a, b map[string]string) []string {
	var out []string
	for name, kind := range a {
		if b[name] != kind {
			out = append(out, name+" ("+kind+")")
		}
	}
	sort.Strings(out)
	return out
}

var _ = Describe("The container image", func() {
	var entries []*tar.Header

	BeforeEach(func() {
		var err error
		entries, err = image.Entries(0)
		Expect(err).NotTo(HaveOccurred())
	})

	It("holds nothing but the binary, the CA bundle, the time zones and its user's entries", func() {
		got := map[string]string{}
		for _, h := range entries {
			got[h.Name] = kindOf(h)
		}
		want := expectedEntries()
		Expect(difference(got, want)).To(BeEmpty(), "in the image, not expected")
		Expect(difference(want, got)).To(BeEmpty(), "expected, not in the image")
		Expect(want).To(HaveKey("usr/share/zoneinfo/America/New_York"))

		var total int64
		for _, h := range entries {
			total += h.Size
		}
		GinkgoWriter.Printf("image: %d entries, %d bytes unpacked, layer %d bytes compressed\n",
			len(entries), total, image.LayerSize(0))
	})

	It("has root own every file and lets nobody else write one", func() {
		for _, h := range entries {
			Expect([2]int{h.Uid, h.Gid}).To(Equal([2]int{0, 0}), h.Name)
			if h.Typeflag == tar.TypeSymlink {
				continue
			}
			Expect(h.Mode&0o7022).To(BeZero(), "%s has mode %o", h.Name, h.Mode)
		}
	})

	It("carries the host's CA bundle", func() {
		host, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
		Expect(err).NotTo(HaveOccurred())
		inImage, err := os.ReadFile(filepath.Join(shared.Rootfs, "etc/ssl/certs/ca-certificates.crt"))
		Expect(err).NotTo(HaveOccurred())
		Expect(bytes.Equal(inImage, host)).To(BeTrue(), "the image's CA bundle differs from the host's")
		Expect(bytes.Count(inImage, []byte("BEGIN CERTIFICATE"))).To(BeNumerically(">", 100))
	})

	It("runs a static binary built with -trimpath and no cgo, its version stamped and labelled", func(ctx SpecContext) {
		bin := filepath.Join(shared.Rootfs, binaryPath)
		f, err := elf.Open(bin)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		for _, p := range f.Progs {
			Expect(p.Type).NotTo(Equal(elf.PT_INTERP), "the binary asks for a dynamic loader")
		}
		libs, err := f.ImportedLibraries()
		Expect(err).NotTo(HaveOccurred())
		Expect(libs).To(BeEmpty())

		info, err := buildinfo.ReadFile(bin)
		Expect(err).NotTo(HaveOccurred())
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		Expect(settings).To(HaveKeyWithValue("CGO_ENABLED", "0"))
		Expect(settings).To(HaveKeyWithValue("-trimpath", "true"))

		version := image.Config.Config.Labels["org.opencontainers.image.version"]
		Expect(version).NotTo(BeEmpty())

		// -trimpath keeps -ldflags out of the build info: the binary says its
		// version itself.
		out := runInImage(ctx, nil, "version")
		Expect(strings.Fields(out)).To(HaveExactElements(version, info.GoVersion, "linux/amd64"))
	})

	It("runs as a numeric non-root user that /etc/passwd and /etc/group name", func() {
		user := image.Config.Config.User
		m := regexp.MustCompile(`^([0-9]+):([0-9]+)$`).FindStringSubmatch(user)
		Expect(m).NotTo(BeNil(), "USER %q is not uid:gid", user)
		Expect(m[1]).NotTo(Equal("0"))
		Expect(m[2]).NotTo(Equal("0"))

		passwd, err := os.ReadFile(filepath.Join(shared.Rootfs, "etc/passwd"))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.Split(strings.TrimSpace(string(passwd)), "\n")).To(HaveExactElements(
			MatchRegexp(`^worker:x:%s:%s:[^:]*:/nonexistent:/nonexistent$`, m[1], m[2])))
		group, err := os.ReadFile(filepath.Join(shared.Rootfs, "etc/group"))
		Expect(err).NotTo(HaveOccurred())
		Expect(strings.TrimSpace(string(group))).To(Equal("worker:x:" + m[2] + ":"))
	})

	It("starts the binary, its ops server where probes reach it, on settings config reads", func() {
		c := image.Config.Config
		Expect(c.Entrypoint).To(HaveExactElements(binaryPath))
		Expect(c.Cmd).To(HaveExactElements("run"))

		known := map[string]bool{"PATH": true}
		for _, name := range config.EnvNames() {
			known[name] = true
		}
		for _, kv := range c.Env {
			name, _, _ := strings.Cut(kv, "=")
			Expect(known).To(HaveKey(name), "the image sets %s, which config does not read", name)
		}
		cfg, err := config.Load(c.Env)
		Expect(err).NotTo(HaveOccurred())
		host, port, err := net.SplitHostPort(cfg.MetricsAddr)
		Expect(err).NotTo(HaveOccurred())
		Expect(net.ParseIP(host).IsUnspecified()).To(BeTrue(), "METRICS_ADDR %s is not reachable from outside the container", cfg.MetricsAddr)
		Expect(c.ExposedPorts).To(HaveKey(port + "/tcp"))

		defaults, err := config.Load(nil)
		Expect(err).NotTo(HaveOccurred())
		_, defaultPort, err := net.SplitHostPort(defaults.MetricsAddr)
		Expect(err).NotTo(HaveOccurred())
		Expect(port).To(Equal(defaultPort), "the image moves the ops server off the binary's default port")
	})
})

var _ = Describe("The image the reference manifests name", func() {
	It("is one `make image` tags: every container of deploy/kubernetes runs imageName:latest, this build", func() {
		Expect(shared.LatestID).NotTo(BeEmpty())
		Expect(shared.LatestID).To(Equal(shared.ID), "make image did not tag this build %s:latest", imageName)
		m, err := kubelet.DecodeDir("../../deploy/kubernetes")
		Expect(err).NotTo(HaveOccurred())
		pods := m.Pods()
		Expect(pods).NotTo(BeEmpty())
		for workload, tmpl := range pods {
			for _, c := range kubelet.AllContainers(&tmpl.Spec) {
				Expect(c.Image).To(Equal(imageName+":latest"), "%s, container %s", workload, c.Name)
			}
		}
	})
})
