package runner_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/runner"
)

// asynq's own lines go through runner.AsynqLogger into the process's
// handler: in vets-api's envelope, named asynq, its Fatal at fatal.
var _ = Describe("asynq's logger", func() {
	It("writes asynq's lines in the worker's envelope, named asynq", func() {
		o := newObserved()
		l := runner.AsynqLogger(o.Logger)

		l.Warn("lease expired for task ", "t-1")
		l.Fatal("cannot continue")

		Expect(o.Logs.Entries()).To(HaveExactElements(
			SatisfyAll(HaveKeyWithValue("name", "asynq"), HaveKeyWithValue("level", "warn"), HaveKeyWithValue("message", "lease expired for task t-1"), Not(HaveKey("component"))),
			SatisfyAll(HaveKeyWithValue("name", "asynq"), HaveKeyWithValue("level", "fatal"), HaveKeyWithValue("level_index", 5.0), HaveKeyWithValue("message", "cannot continue")),
		))
	})
})
