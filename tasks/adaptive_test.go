package tasks_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

// specLadder is the ladder the adaptive specs read their figures off.
const specLadder = "0:2m,10m:5m,30m:10m,1h:20m,2h:40m,4h:1h,24h:4h,168h:24h"

// specSchedule is specLadder with a daily floor.
func specSchedule() polling.Schedule {
	l, err := config.ParseLadder(specLadder)
	Expect(err).NotTo(HaveOccurred())
	return polling.Schedule{Ladder: l, Floor: 24 * time.Hour}
}

// pollStateOf reads an upload's own state; nil when it has none.
func pollStateOf(ctx context.Context, id int64) *models.UploadPollState {
	GinkgoHelper()
	var states []models.UploadPollState
	Expect(gdb.WithContext(ctx).Where("upload_id = ?", id).Find(&states).Error).To(Succeed())
	if len(states) == 0 {
		return nil
	}
	return &states[0]
}

var _ = Describe("the lease of a claimed upload", func() {
	It("covers one attempt of its batch task and one cron period of queue wait", func() {
		Expect(polling.LeaseFor(tasks.StatusBatchTimeout(), time.Minute)).To(Equal(5 * time.Minute))
	})
})
