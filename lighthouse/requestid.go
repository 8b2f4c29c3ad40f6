package lighthouse

import "strconv"

// ValidRequestID reports whether id is a Lighthouse request id the worker
// may send: a positive integer that fits an int64, written as its canonical
// decimal string (no sign, no leading zero, no spaces). It is the one rule
// of the whole worker: task payloads, the enqueue API, the due scan and the
// status decoder all use it.
//
// Lighthouse answers a status call holding an id it cannot read as an integer
// (`"abc"`, or twenty digits, past int64) with a 400 for the whole call, so an
// id outside this rule must never reach a call. The canonical form matters
// too: Lighthouse answers every id as a JSON number, and "007" would never
// be matched with the 7 it answers.
func ValidRequestID(id string) bool {
	if id == "" || id[0] < '1' || id[0] > '9' {
		return false
	}
	n, err := strconv.ParseInt(id, 10, 64)
	return err == nil && n > 0
}
