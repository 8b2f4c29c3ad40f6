package lighthouse

import (
	"fmt"
	"unicode/utf8"
)

// MaxFieldBytes caps each text field of a status entry as it is stored and
// logged: a string longer than this (counted as the JSON carries it) is cut
// to it and ends with a mark saying so (cutMark). The API documents short
// texts (a step's description, an error's detail); a 5 MB error.detail would
// otherwise be stored twice (last_status_response and error_message), logged
// as one line and printed by `worker uploads show`.
const MaxFieldBytes = 64 << 10

// cutMark ends a string cut at MaxFieldBytes: what was cut, and how long the
// string was, in the bytes the JSON carried.
func cutMark(total int) string {
	return fmt.Sprintf("…[cut by lighthouse526 at %d of %d bytes]", MaxFieldBytes, total)
}

// Repair kinds: the label values of lighthouse_status_entries_repaired_total.
const (
	RepairInvalidText = "invalid_text" // invalid UTF-8 or a lone surrogate, replaced by U+FFFD
	RepairCut         = "cut"          // a string over MaxFieldBytes, cut
)

// Repaired is a status entry that was applied after repair.
type Repaired struct {
	RequestID string
	Kinds     []string // RepairInvalidText, RepairCut, in that order when both
}

// repair is one change repairText made, at offset at of its output.
type repair struct {
	at   int
	kind string
}

// repairText returns body with every JSON string made storable: invalid
// UTF-8 replaced by U+FFFD, a \u escape of a lone surrogate replaced by
// \ufffd (Postgres's jsonb refuses both, and so does the JSON v2 decoder),
// and a string longer than MaxFieldBytes cut with cutMark. It returns nil
// when nothing needed changing. It copies what is not a string as it is: a
// body that is not JSON stays so, and the decoder says why.
//
// It runs only on an answer the decoder refused or that holds an entry over
// MaxFieldBytes (decodeStatusResponse), never on the common answer.
func repairText(body []byte) ([]byte, []repair) {
	out := make([]byte, 0, len(body))
	var fixes []repair
	for i := 0; i < len(body); {
		if body[i] != '"' {
			out = append(out, body[i])
			i++
			continue
		}
		var fixed []repair
		out, i, fixed = repairString(out, body, i)
		fixes = append(fixes, fixed...)
	}
	if len(fixes) == 0 {
		return nil, nil
	}
	return out, fixes
}

// repairString copies the string starting at body[i] (its opening quote) to
// out, repaired, and returns where it ended in body.
func repairString(out, body []byte, i int) ([]byte, int, []repair) {
	var fixes []repair
	out = append(out, '"')
	start := len(out)
	i++
	kept, total := 0, 0 // the string's bytes kept, and in the body
	cut := false
	for i < len(body) && body[i] != '"' {
		unit, size, kind := nextUnit(body, i)
		i += size
		total += size
		if cut = cut || kept+len(unit) > MaxFieldBytes; cut {
			continue // past the cap: counted, not kept
		}
		if kind != "" {
			fixes = append(fixes, repair{at: len(out), kind: kind})
		}
		out = append(out, unit...)
		kept += len(unit)
	}
	if cut {
		fixes = append(fixes, repair{at: start, kind: RepairCut})
		out = append(out, cutMark(total)...)
	}
	if i < len(body) {
		out = append(out, '"')
		i++
	}
	return out, i, fixes
}

// replacement is U+FFFD as a JSON escape, the same length as the escape of
// a lone surrogate it replaces.
const replacement = `\ufffd`

// nextUnit reads one unit of a string's content at body[i]: an escape (a
// surrogate pair's two escapes as one), or one UTF-8 character. It returns
// the unit's bytes to keep (a replacement when kind says it was repaired)
// and how many bytes of body it took.
func nextUnit(body []byte, i int) (unit []byte, size int, kind string) {
	if body[i] != '\\' {
		r, n := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && n <= 1 {
			return []byte(string(utf8.RuneError)), 1, RepairInvalidText
		}
		return body[i : i+n], n, ""
	}
	if i+1 >= len(body) {
		return body[i:], len(body) - i, ""
	}
	if body[i+1] != 'u' {
		return body[i : i+2], 2, ""
	}
	u, ok := hex4(body, i+2)
	if !ok {
		return body[i : i+2], 2, "" // not an escape: the decoder says so
	}
	switch {
	case u >= 0xD800 && u <= 0xDBFF:
		if i+11 < len(body) && body[i+6] == '\\' && body[i+7] == 'u' {
			if low, ok := hex4(body, i+8); ok && low >= 0xDC00 && low <= 0xDFFF {
				return body[i : i+12], 12, ""
			}
		}
		return []byte(replacement), 6, RepairInvalidText
	case u >= 0xDC00 && u <= 0xDFFF:
		return []byte(replacement), 6, RepairInvalidText
	}
	return body[i : i+6], 6, ""
}

// hex4 reads the four hex digits at body[i:i+4].
func hex4(body []byte, i int) (rune, bool) {
	if i+4 > len(body) {
		return 0, false
	}
	var r rune
	for _, c := range body[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
