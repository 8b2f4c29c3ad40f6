package simulate

import (
	"container/heap"
	"context"
	"time"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// uploadState is what the simulation knows of one upload under one
// strategy: the schedule's memory of it (as the worker's per-upload table
// keeps it), and what the figures need.
type uploadState struct {
	seen polling.Seen
	due  time.Time // adaptive: its next-poll time

	polls              int32
	done               bool
	detected           time.Time
	lastPoll, prevPoll time.Time
	// maxGap is the longest wait between two of its polls (or from its
	// creation to its first) that ended within the measured window.
	maxGap time.Duration
}

// engine runs one strategy over a workload, in virtual time: it jumps from
// one event (a cycle, a minute in which the limiter lets calls through) to
// the next and never reads a clock.
type engine struct {
	o        *Options
	strategy config.Strategy
	ups      []Upload
	st       []uploadState

	arrived int // uploads created so far: ups[:arrived]
	lim     limiter
	due     dueHeap // adaptive: uploads by next-poll time
	pending []int32 // fixed: every upload not yet final, in id order

	start, end time.Time // the measured window
	// undetected counts the uploads Lighthouse ended before the window's end
	// that the worker has not seen final yet: the run goes on past the end
	// until it is 0.
	undetected  int
	calls       []int // calls made in each minute of the window
	windowPolls int   // uploads polled by those calls
	snap        *snapshot
}

// snapshot is the state at the window's end of the uploads still pending.
type snapshot struct {
	oldestAge, oldestInterval time.Duration
	never, neverDaily         int
	longestNeverGap           time.Duration
}

func newEngine(o *Options, strategy config.Strategy, ups []Upload) *engine {
	start, end := o.window()
	e := &engine{
		o: o, strategy: strategy, ups: ups, st: make([]uploadState, len(ups)),
		lim:   limiter{budget: o.Budget},
		start: start, end: end,
		calls: make([]int, int(end.Sub(start)/time.Minute)),
	}
	e.due.e = e
	for i := range ups {
		if ups[i].Finishes() && ups[i].Ended.Before(end) {
			e.undetected++
		}
	}
	return e
}

// run steps through virtual time until every upload that ends is seen, or
// past the window by a floor, a period and a day; it returns ctx's error if
// ctx ends first (checked every 1,024 steps: microseconds apart).
func (e *engine) run(ctx context.Context) error {
	t := e.start.Add(-e.o.Warmup).Truncate(time.Minute)
	stop := e.end.Add(e.o.Schedule.Floor + e.o.FixedPeriod + 24*time.Hour)
	for step := 0; !t.After(stop); step++ {
		if step%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if e.snap == nil && !t.Before(e.end) {
			e.takeSnapshot()
			if e.undetected == 0 {
				return nil
			}
		}
		e.admit(t)
		if e.isCycle(t) {
			e.cycle(t)
		}
		for _, batch := range e.lim.take() {
			e.call(t, batch)
		}
		if e.snap != nil && e.undetected == 0 {
			return nil
		}
		t = e.nextEvent(t)
	}
	return nil
}

// admit adds the uploads created by t. A new upload has no next-poll time
// yet: it is due at once (FirstPollAtCreation, as overdue as its age), or
// at the schedule's first grid point after its creation
// (FirstPollOnGrid, Schedule.Next(created, created)).
func (e *engine) admit(t time.Time) {
	for e.arrived < len(e.ups) && !e.ups[e.arrived].Created.After(t) {
		i := int32(e.arrived)
		e.arrived++
		switch e.strategy {
		case config.StrategyAdaptive:
			e.st[i].due = e.ups[i].Created
			if e.o.FirstPoll == FirstPollOnGrid {
				e.st[i].due = e.o.Schedule.Next(e.ups[i].Created, e.ups[i].Created)
			}
			heap.Push(&e.due, i)
		default:
			e.pending = append(e.pending, i)
		}
	}
}

// isCycle says whether a cron cycle runs at t: every minute when adaptive,
// at :15 of every FixedPeriod (on the UTC grid, as a cron line does) when
// fixed.
func (e *engine) isCycle(t time.Time) bool {
	if e.strategy == config.StrategyAdaptive {
		return true
	}
	return t.Sub(t.Truncate(e.o.FixedPeriod)) == fixedOffset%e.o.FixedPeriod
}

// fixedOffset is where in its period a fixed cycle runs: POLL_CRON's default
// "15 * * * *".
const fixedOffset = 15 * time.Minute

// cycle hands the limiter this cycle's calls. Fixed: every pending upload,
// in id order. Adaptive: the due uploads, most overdue first (polling.Due),
// at most polling.CallsPerCycle batches; the rest stay due for the next.
func (e *engine) cycle(t time.Time) {
	var picked []int32
	if e.strategy == config.StrategyAdaptive {
		limit := polling.CallsPerCycle(e.o.Budget, time.Minute) * e.o.BatchSize
		for e.due.Len() > 0 && len(picked) < limit && !e.st[e.due.ids[0]].due.After(t) {
			picked = append(picked, heap.Pop(&e.due).(int32))
		}
	} else {
		kept := e.pending[:0]
		for _, i := range e.pending {
			if !e.st[i].done {
				kept = append(kept, i)
			}
		}
		e.pending = kept
		picked = append(picked, e.pending...)
	}
	e.lim.enqueue(polling.Split(picked, e.o.BatchSize)...)
}

// call is one POST /uploads/status at t for a batch, and the batch write
// of its answer.
func (e *engine) call(t time.Time, batch []int32) {
	inWindow := !t.Before(e.start) && t.Before(e.end)
	if inWindow {
		e.calls[t.Sub(e.start)/time.Minute]++
	}
	for _, i := range batch {
		s, u := &e.st[i], &e.ups[i]
		if s.done {
			continue // a fixed cycle's spill polled it already
		}
		if inWindow {
			e.windowPolls++
		}
		e.recordPoll(t, s, u)
		state, digest := u.poll(t)
		if state != models.StatePending {
			s.done, s.detected = true, t
			if u.Ended.Before(e.end) {
				e.undetected--
			}
			continue
		}
		if e.strategy == config.StrategyAdaptive {
			s.due, s.seen = e.o.Schedule.After(t, u.Created, s.seen, digest)
			heap.Push(&e.due, i)
		}
	}
}

func (e *engine) recordPoll(t time.Time, s *uploadState, u *Upload) {
	last := s.lastPoll
	if last.IsZero() {
		last = u.Created
	}
	if !t.Before(e.start) && !t.After(e.end) {
		s.maxGap = max(s.maxGap, t.Sub(last))
	}
	s.polls++
	s.prevPoll, s.lastPoll = s.lastPoll, t
}

// nextEvent is when something next happens after t: a minute with calls
// waiting on the limiter, the next cycle that has anything to do, or, past
// the window's end, its end.
func (e *engine) nextEvent(t time.Time) time.Time {
	next := t.Add(time.Minute)
	if e.lim.waiting() {
		return next
	}
	var at time.Time
	if e.strategy == config.StrategyAdaptive {
		// A cycle with nothing due is a no-op: skip to the next minute in
		// which an upload is due or arrives.
		if e.due.Len() > 0 {
			at = e.st[e.due.ids[0]].due
		}
		if e.arrived < len(e.ups) {
			if c := e.ups[e.arrived].Created; at.IsZero() || c.Before(at) {
				at = c
			}
		}
		if at.IsZero() {
			at = e.end.Add(1000 * time.Hour)
		}
		at = ceilMinute(at)
	} else {
		at = t.Truncate(e.o.FixedPeriod).Add(fixedOffset % e.o.FixedPeriod)
		for !at.After(t) {
			at = at.Add(e.o.FixedPeriod)
		}
	}
	if t.Before(e.end) && at.After(e.end) {
		at = e.end
	}
	return latest(next, at)
}

func ceilMinute(t time.Time) time.Time {
	if m := t.Truncate(time.Minute); !m.Equal(t) {
		return m.Add(time.Minute)
	}
	return t
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// takeSnapshot records, at the window's end, the oldest pending upload's age
// and poll interval, and how often the never-finishing uploads were polled.
func (e *engine) takeSnapshot() {
	e.snap = &snapshot{}
	oldestFound := false
	for i := range e.ups {
		u, s := &e.ups[i], &e.st[i]
		if s.done || !u.Created.Before(e.end) {
			continue
		}
		if !oldestFound {
			oldestFound = true
			e.snap.oldestAge = e.end.Sub(u.Created)
			if !s.prevPoll.IsZero() {
				e.snap.oldestInterval = s.lastPoll.Sub(s.prevPoll)
			}
		}
		if u.Finishes() {
			continue
		}
		last := s.lastPoll
		if last.IsZero() {
			last = u.Created
		}
		gap := max(s.maxGap, e.end.Sub(last))
		e.snap.never++
		if gap <= 24*time.Hour {
			e.snap.neverDaily++
		}
		e.snap.longestNeverGap = max(e.snap.longestNeverGap, gap)
	}
}

// dueHeap orders pending uploads as the due scan does (polling.Due).
type dueHeap struct {
	e   *engine
	ids []int32
}

func (h *dueHeap) Len() int { return len(h.ids) }
func (h *dueHeap) Less(a, b int) bool {
	ia, ib := h.ids[a], h.ids[b]
	return polling.Due(h.e.st[ia].due, h.e.ups[ia].ID, h.e.st[ib].due, h.e.ups[ib].ID) < 0
}
func (h *dueHeap) Swap(a, b int) { h.ids[a], h.ids[b] = h.ids[b], h.ids[a] }
func (h *dueHeap) Push(x any)    { h.ids = append(h.ids, x.(int32)) }
func (h *dueHeap) Pop() any {
	n := len(h.ids) - 1
	x := h.ids[n]
	h.ids = h.ids[:n]
	return x
}
