package tasks_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

var _ = Describe("the lease of a claimed upload", func() {
	It("covers one attempt of its batch task and one cron period of queue wait", func() {
		Expect(polling.LeaseFor(tasks.StatusBatchTimeout(), time.Minute)).To(Equal(5 * time.Minute))
	})
})
