package polling

import (
	"strconv"
	"time"
)

// Cycle ids say who started a cycle: the scheduler (CronCycleID), a poll-now
// task (AdHocCycleID) or `worker poll` ("manual:..."). Only cron cycles
// block or skip each other, and a poll-now cycle sends no StatsD gauges.
const (
	CronCyclePrefix  = "cron:"
	AdHocCyclePrefix = "adhoc:"
)

// CronCycleID is the cycle id of a cron tick: the same for every replica.
func CronCycleID(tick time.Time) string {
	return CronCyclePrefix + tick.UTC().Format(time.RFC3339)
}

// AdHocCycleID is the cycle id of a poll-now task's batches.
func AdHocCycleID(taskID string) string { return AdHocCyclePrefix + taskID }

// BatchTaskID names the seq-th batch of a cycle, so a retried cycle that
// enqueues the same batch again is refused by the queue.
func BatchTaskID(cycleID string, seq int) string {
	return cycleID + ":batch:" + strconv.Itoa(seq)
}
