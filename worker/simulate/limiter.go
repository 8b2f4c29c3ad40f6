package simulate

// limiter is the per-minute call budget as the shared Redis limiter keeps
// it: at most budget calls in each clock minute; calls beyond it wait, in
// the order they were handed on, for the next minute with room. A call is
// made, and its answer applied, in the minute the limiter lets it through.
type limiter struct {
	budget int
	queue  [][]int32 // batches of upload indexes waiting for a call
}

func (l *limiter) enqueue(batches ...[]int32) { l.queue = append(l.queue, batches...) }

// take removes and returns the calls this minute may make.
func (l *limiter) take() [][]int32 {
	n := min(l.budget, len(l.queue))
	calls := l.queue[:n:n]
	l.queue = l.queue[n:]
	if len(l.queue) == 0 {
		l.queue = nil
	}
	return calls
}

func (l *limiter) waiting() bool { return len(l.queue) > 0 }
