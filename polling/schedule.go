package polling

import (
	"cmp"
	"slices"
	"time"

	"github.com/vagov/lighthouse526/config"
)

// Schedule is the adaptive policy: when to poll a pending upload next.
type Schedule struct {
	Ladder config.Ladder
	// Floor is the longest an upload ever waits between polls, whatever its
	// age: an upload stuck for weeks is still polled at least this often.
	Floor time.Duration
}

// Interval is how often to poll an upload of age age (see config.Ladder).
func (s Schedule) Interval(age time.Duration) time.Duration {
	i, _ := slices.BinarySearchFunc(s.Ladder, age, func(r config.Rung, age time.Duration) int {
		return cmp.Compare(r.From, age)
	})
	// i is the first rung starting after age, or the rung starting at age.
	if i == len(s.Ladder) || s.Ladder[i].From > age {
		i--
	}
	every := s.Ladder[max(i, 0)].Every
	if s.Floor > 0 {
		every = min(every, s.Floor)
	}
	return every
}

// Next is when to poll next an upload polled at now whose age counts from
// since (its creation, or its status's last move). It is the first multiple
// of the upload's interval after now (counted as time.Truncate counts, so a
// day's multiples are UTC midnights): uploads
// on one rung fall due together and share calls, instead of each spending a
// call of its own a few seconds after another's.
func (s Schedule) Next(now, since time.Time) time.Time {
	every := s.Interval(max(now.Sub(since), 0))
	return now.Truncate(every).Add(every)
}

// Due orders due uploads: the most overdue first, then by id, so an upload
// that waited longer never waits behind one that waited less, and nothing
// starves when more is due than the budget allows. The due scan's ORDER BY
// is the same order.
func Due(aDue time.Time, aID int64, bDue time.Time, bID int64) int {
	if c := aDue.Compare(bDue); c != 0 {
		return c
	}
	return cmp.Compare(aID, bID)
}

// CallsPerCycle is how many Lighthouse calls (batches) one adaptive cycle
// may hand on: the rate budget in calls a minute over the time to the next
// cycle, at least one.
func CallsPerCycle(budgetPerMinute int, period time.Duration) int {
	return max(int(int64(budgetPerMinute)*int64(period)/int64(time.Minute)), 1)
}

// Split cuts items into batches of at most size, in order: the batches of
// a cycle's fan-out.
func Split[T any](items []T, size int) [][]T {
	size = max(size, 1)
	out := make([][]T, 0, (len(items)+size-1)/size)
	for start := 0; start < len(items); start += size {
		out = append(out, items[start:min(start+size, len(items))])
	}
	return out
}

// Seen is what the schedule remembers of an upload's last poll: a digest of
// the status Lighthouse gave (see StatusDigest) and when it last moved.
type Seen struct {
	Digest    uint64
	ChangedAt time.Time // zero: never polled under this schedule
}

// After is the schedule's step after a poll at now that found the status of
// digest for an upload created at created and last seen as prev: when to
// poll it next, and what to remember. A status that moved makes the upload
// young again (polled often: its next step is likely soon); a first poll is
// not a move, so switching to this schedule does not make every old upload
// young at once.
//
// A creation time after now is not believed (a clock set wrong, a hand-made
// row): the upload counts as created at its first poll, so it is polled as
// a new one, then less often, instead of never (its creation years ahead)
// or as a new one for ever (every poll counting from a creation still ahead).
func (s Schedule) After(now, created time.Time, prev Seen, digest uint64) (time.Time, Seen) {
	if created.After(now) {
		created = now
		if !prev.ChangedAt.IsZero() {
			created = prev.ChangedAt
		}
	}
	seen := Seen{Digest: digest, ChangedAt: prev.ChangedAt}
	switch {
	case prev.ChangedAt.IsZero():
		seen.ChangedAt = created
	case digest != prev.Digest:
		seen.ChangedAt = now
	}
	return s.Next(now, later(created, seen.ChangedAt)), seen
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
