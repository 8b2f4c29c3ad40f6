// Package image_test builds the worker's container image (`make image`),
// exports it as an OCI image layout, unpacks its only layer and runs the
// binary from that root filesystem with chroot, as the image's user, against
// real Postgres, real Redis and the fake Lighthouse: what a container runtime
// would run, on machines where containers cannot start (the runtime's
// setrlimit is refused). The chroot shares the host's network, so 127.0.0.1
// reaches the services. It needs root, as CI has.
package image_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestImage(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Container image")
}

// imageName is the repository `make image` tags; each run adds a tag of its
// own and removes it once exported.
const imageName = "localhost/lighthouse526-worker"

// built is what process 1 made for every process.
type built struct {
	Layout string `json:"layout"` // the OCI image layout
	Tag    string `json:"tag"`    // its one image's ref name
	Rootfs string `json:"rootfs"` // its layer, unpacked
	// The image ids `make image` gave its tag and imageName:latest.
	ID       string `json:"id"`
	LatestID string `json:"latest_id"`
}

var (
	shared built
	image  *ociImage // the image, read from shared.Layout
)

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	Expect(os.Geteuid()).To(BeZero(), "the image spec runs the binary with chroot, which needs root (CI runs as root)")
	dir, err := os.MkdirTemp("", "lighthouse526-image-")
	Expect(err).NotTo(HaveOccurred())
	b := built{Layout: filepath.Join(dir, "oci"), Tag: "spec-" + randomHex(6), Rootfs: filepath.Join(dir, "rootfs")}
	repo, err := filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())

	ref := imageName + ":" + b.Tag
	run(ctx, repo, "make", "--no-print-directory", "image", "IMAGE="+imageName, "IMAGE_TAG="+b.Tag)
	b.ID = imageID(ctx, repo, ref)
	b.LatestID = imageID(ctx, repo, imageName+":latest")
	run(ctx, repo, "buildah", "push", "--quiet", ref, "oci:"+b.Layout+":"+b.Tag)
	run(ctx, repo, "buildah", "rmi", ref)

	img, err := readLayout(b.Layout, b.Tag)
	Expect(err).NotTo(HaveOccurred())
	Expect(img.Manifest.Layers).To(HaveLen(1), "the image is one layer FROM scratch")
	Expect(os.Mkdir(b.Rootfs, 0o755)).To(Succeed())
	// The host's tar unpacks the layer as a runtime would: owners, modes and
	// links as recorded (it detects the compression itself).
	run(ctx, repo, "tar", "-xpf", img.LayerPath(0), "-C", b.Rootfs)

	out, err := json.Marshal(b)
	Expect(err).NotTo(HaveOccurred())
	return out
}, func(data []byte) {
	Expect(json.Unmarshal(data, &shared)).To(Succeed())
	var err error
	image, err = readLayout(shared.Layout, shared.Tag)
	Expect(err).NotTo(HaveOccurred())
}, NodeTimeout(20*time.Minute))

var _ = SynchronizedAfterSuite(func() {}, func() {
	if shared.Layout != "" {
		Expect(os.RemoveAll(filepath.Dir(shared.Layout))).To(Succeed())
	}
})

// run runs a command in dir and fails the spec, with its output, when it
// fails.
func run(ctx SpecContext, dir, name string, args ...string) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	GinkgoWriter.Printf("$ %s %v\n%s", name, args, out)
	Expect(err).NotTo(HaveOccurred(), "%s %v:\n%s", name, args, out)
}

// imageID is the id of the local image ref names.
func imageID(ctx SpecContext, dir, ref string) string {
	cmd := exec.CommandContext(ctx, "buildah", "images", "--no-trunc", "--format", "{{.ID}}", ref)
	cmd.Dir = dir
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "buildah images %s", ref)
	return strings.TrimSpace(string(out))
}
