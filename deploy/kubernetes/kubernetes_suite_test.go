// Package kubernetes_test checks the reference deployment in this directory
// against the code, and runs it: every manifest decodes strictly into the
// Kubernetes API types (an unknown or misspelt field fails), every variable
// it sets is one config reads, its probes call the routes and ports the
// binary serves, secrets come from Secrets, the pods are hardened as the
// platform requires; and each container, given the environment the kubelet
// would give it, runs the production binary from the image's root
// filesystem until its readiness probe answers (running_test.go). A
// variable, route or default port renamed in the code fails it.
package kubernetes_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/deploy/kubernetes/kubelet"
)

func TestKubernetes(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Kubernetes reference deployment")
}

var (
	// objects is every manifest of this directory, decoded.
	objects *kubelet.Manifests
	// image is how the Containerfile runs its container.
	image *kubelet.Image
)

var _ = BeforeSuite(func() {
	var err error
	objects, err = kubelet.DecodeDir(".")
	Expect(err).NotTo(HaveOccurred())
	image, err = kubelet.ReadContainerfile("../../Containerfile")
	Expect(err).NotTo(HaveOccurred())
})
