package polling_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestPolling(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Polling")
}
