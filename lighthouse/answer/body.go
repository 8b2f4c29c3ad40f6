// Package answer names the one invariant that three packages share about a
// Lighthouse answer: each status the client decodes from it is a slice of
// the answer's body, never a copy (lighthouse produces those slices with
// Body.Part), so whoever holds the body can find any status's place in it
// with Body.Offset. The batch write relies on it (models.WriteBatch): when
// the statuses it saves are slices of the body, it sends the body once with
// each status's offset and length instead of a copy of every status; polling
// hands the body from the one to the other.
//
// It is a package of its own, with no dependency, so that models can name
// the body without importing the Lighthouse client (models knows nothing of
// HTTP) and lighthouse can produce it without knowing of the database.
package answer

import "unsafe"

// Body is the bytes of one Lighthouse answer, which the statuses decoded
// from it are slices of. Neither the body nor those slices may be modified:
// they share their bytes.
type Body []byte

// Part returns b[start:end] with its capacity capped at end, so that an
// append to the part copies it rather than writes over the rest of b.
func (b Body) Part(start, end int) []byte {
	return b[start:end:end]
}

// Offset returns where s starts in b, when s is a slice of b's bytes (Part
// or any other slicing of b), and false for an empty s or bytes outside b,
// even next to it in memory. It compares addresses only, never making a
// pointer of one, as the standard library's crypto/internal/alias does: Go's
// heap does not move.
func (b Body) Offset(s []byte) (int, bool) {
	if len(s) == 0 || len(s) > len(b) {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b))) //nolint:gosec // G103: an address compared, never made a pointer again
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))    //nolint:gosec // G103: likewise
	if p < base || p-base > uintptr(len(b)-len(s)) {
		return 0, false
	}
	return int(p - base), true
}
