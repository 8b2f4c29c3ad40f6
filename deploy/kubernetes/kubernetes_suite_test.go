// Package kubernetes_test checks the reference deployment in this directory
// against the code: every manifest decodes strictly into the Kubernetes API
// types (an unknown or misspelt field fails), every variable it sets is one
// config reads, its probes call the routes and the port the binary serves,
// secrets come from Secrets, and the pods are hardened as the platform
// requires. A variable, route or default port renamed in the code fails it.
package kubernetes_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestKubernetes(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Kubernetes reference deployment")
}

// objects is every manifest of this directory, decoded.
var objects *manifests

var _ = BeforeSuite(func() {
	var err error
	objects, err = decodeDir(".")
	Expect(err).NotTo(HaveOccurred())
})
