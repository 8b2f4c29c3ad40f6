package tasks_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The oracle of FuzzStatusBatchPath: what the rules (lighthouse-api.md;
// docs/reliability.md, "one entry never fails its answer"; issue 23) say a
// batch must make of an answer, worked out from the answer's bytes alone
// with encoding/json, apart from the product's decoder
// (lighthouse.DecodeStatusResponse, JSON v2) and its repair. Like the
// product, it reads invalid UTF-8 and lone surrogates as U+FFFD (which is
// what encoding/json does).

// fuzzExpect is what an answer must do.
type fuzzExpect struct {
	// mayFail says why the whole answer is unusable (not JSON, a wrong
	// envelope, no entry that can be read), or "": the batch must succeed.
	// An unusable answer may fail the batch, which then changes nothing, or
	// be taken as saying nothing.
	mayFail string
	// first is the first well-formed entry of each asked request id: the
	// one applied (empty when the answer is unusable).
	first map[string]*fuzzEntryWant
}

// fuzzEntryWant is a well-formed entry with plausible times.
type fuzzEntryWant struct {
	raw        []byte
	status     string
	start, end *int64
	errorObj   []byte // the "error" member when it is an object, else nil
}

var (
	requestIDText = regexp.MustCompile(`^[1-9][0-9]*$`)
	integerText   = regexp.MustCompile(`^-?[0-9]+$`)
)

// earliestPlausible is 2000-01-01 (issue 23: a time before 2000, or more
// than a day ahead, or an end before its start, makes an entry malformed).
var earliestPlausible = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// expectFrom works out what body must do for a batch asking asked, at now.
func expectFrom(body []byte, asked []string, now time.Time) fuzzExpect {
	out := fuzzExpect{first: map[string]*fuzzEntryWant{}}
	fail := func(why string) fuzzExpect { return fuzzExpect{mayFail: why} }
	if !json.Valid(body) {
		return fail("not JSON")
	}
	top, ok := objectMembers(body)
	if !ok {
		return fail("not an object")
	}
	data, ok := top["data"]
	if !ok || string(data) == "null" {
		return fail("no data")
	}
	dm, ok := objectMembers(data)
	if !ok {
		return fail("data is not an object")
	}
	// The envelope's own names: which of two to read is anyone's guess.
	// (Names repeated deeper in members the batch does not read are no
	// one's concern.)
	if !namesOnce(body) || !namesOnce(data) {
		return fail("a member name repeated in the envelope")
	}
	if nf, ok := dm["requestIdsNotFound"]; ok && string(nf) != "null" {
		var ids []json.RawMessage
		if json.Unmarshal(nf, &ids) != nil {
			return fail("requestIdsNotFound is not an array")
		}
		for _, id := range ids {
			if _, ok := requestIDOf(id); !ok {
				return fail("requestIdsNotFound holds no request id")
			}
		}
	}
	var entries []json.RawMessage
	if st, ok := dm["statuses"]; ok && string(st) != "null" {
		if json.Unmarshal(st, &entries) != nil {
			return fail("statuses is not an array")
		}
	}
	isAsked := map[string]bool{}
	for _, id := range asked {
		isAsked[id] = true
	}
	readable := 0
	for _, raw := range entries {
		id, e, kind := judgeEntry(raw, now)
		if kind == entryUnreadable {
			continue
		}
		readable++
		if kind == entryWellFormed && isAsked[id] && out.first[id] == nil {
			out.first[id] = e
		}
	}
	if len(entries) > 0 && readable == 0 {
		return fail("no entry can be read")
	}
	return out
}

const (
	entryUnreadable = iota
	entryImplausible
	entryWellFormed
)

// judgeEntry reads one entry of statuses: its request id, and what it is.
func judgeEntry(raw []byte, now time.Time) (string, *fuzzEntryWant, int) {
	m, ok := objectMembers(raw)
	if !ok || !cleanNames(raw) || holdsNUL(raw) || !jsonbNumbers(raw) {
		return "", nil, entryUnreadable
	}
	id, ok := requestIDOf(m["requestId"])
	if !ok {
		return "", nil, entryUnreadable
	}
	e := &fuzzEntryWant{raw: raw}
	if st, ok := m["status"]; !ok || json.Unmarshal(st, &e.status) != nil || e.status == "" {
		return "", nil, entryUnreadable
	}
	if t, ok := m["time"]; ok && string(t) != "null" {
		tm, ok := objectMembers(t)
		if !ok {
			return "", nil, entryUnreadable
		}
		if e.start, ok = millis(tm["startTime"]); !ok {
			return "", nil, entryUnreadable
		}
		if e.end, ok = millis(tm["endTime"]); !ok {
			return "", nil, entryUnreadable
		}
	}
	if er, ok := m["error"]; ok && string(er) != "null" {
		em, ok := objectMembers(er)
		if !ok {
			return "", nil, entryUnreadable
		}
		for _, f := range []string{"detail", "step"} {
			var s *string
			if v, ok := em[f]; ok && json.Unmarshal(v, &s) != nil {
				return "", nil, entryUnreadable
			}
		}
		e.errorObj = er
	}
	lo, hi := earliestPlausible.UnixMilli(), now.Add(24*time.Hour).UnixMilli()
	for _, t := range []*int64{e.start, e.end} {
		if t != nil && (*t < lo || *t > hi) {
			return id, nil, entryImplausible
		}
	}
	if e.start != nil && e.end != nil && *e.end < *e.start {
		return id, nil, entryImplausible
	}
	return id, e, entryWellFormed
}

// objectMembers reads a JSON object's members by their exact names (JSON
// is case-sensitive; encoding/json's struct fields are not).
func objectMembers(raw []byte) (map[string]json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	return m, json.Unmarshal(raw, &m) == nil
}

// requestIDOf reads a request id: a positive integer of int64, as a number
// or a string.
func requestIDOf(raw json.RawMessage) (string, bool) {
	s := string(raw)
	if strings.HasPrefix(s, `"`) && json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	if !requestIDText.MatchString(s) {
		return "", false
	}
	_, err := strconv.ParseInt(s, 10, 64)
	return s, err == nil
}

// millis reads epoch milliseconds: an integer of int64, null or absent.
func millis(raw json.RawMessage) (*int64, bool) {
	if raw == nil || string(raw) == "null" {
		return nil, true
	}
	if !integerText.Match(raw) {
		return nil, false
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	return &n, err == nil
}

// namesOnce reports whether the object raw names no member twice (not
// looking into the members' values).
func namesOnce(raw []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		name, ok := tok.(string)
		if err != nil || !ok || seen[name] {
			return false
		}
		seen[name] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return true
}

// walkTokens calls visit with every token of raw, and with the names of
// each object seen so far at that depth; it stops when visit says false.
func walkTokens(raw []byte, visit func(tok json.Token, names map[string]bool, isName bool) bool) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	type level struct {
		names  map[string]bool
		object bool
		isName bool // the next token is a member name
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return true
		}
		if err != nil {
			return false
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		isName := top != nil && top.object && top.isName
		var names map[string]bool
		if top != nil {
			names = top.names
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				stack[len(stack)-1].isName = true
			}
			continue
		}
		if !visit(tok, names, isName) {
			return false
		}
		if top != nil && top.object {
			top.isName = !isName
			if isName {
				top.names[tok.(string)] = true
			}
		}
		if d, ok := tok.(json.Delim); ok {
			stack = append(stack, &level{names: map[string]bool{}, object: d == '{', isName: d == '{'})
		}
	}
}

// cleanNames reports whether no object in raw repeats a member name (as
// read: two names whose bad bytes both read as U+FFFD are one).
func cleanNames(raw []byte) bool {
	return walkTokens(raw, func(tok json.Token, names map[string]bool, isName bool) bool {
		return !isName || !names[tok.(string)]
	})
}

// holdsNUL reports whether a string or name in raw holds U+0000 (which
// jsonb refuses): JSON text can only carry it escaped.
func holdsNUL(raw []byte) bool {
	return !walkTokens(raw, func(tok json.Token, _ map[string]bool, _ bool) bool {
		s, ok := tok.(string)
		return !ok || !strings.ContainsRune(s, 0)
	})
}

// jsonbNumbers reports whether every number in raw is one Postgres's
// numeric (jsonb's numbers) can hold: its decimal exponent within the
// range numeric's text input takes.
func jsonbNumbers(raw []byte) bool {
	return walkTokens(raw, func(tok json.Token, _ map[string]bool, _ bool) bool {
		n, ok := tok.(json.Number)
		return !ok || numericHolds(string(n))
	})
}

// numericHolds reports whether Postgres's numeric (jsonb's numbers) reads
// the JSON number s, as Postgres 15 does (tried with psql): an exponent
// under 2^30-1 in size, at most 16383 digits after the point once the
// exponent is applied (those written, trailing zeros too, less the
// exponent), and a first significant digit no higher than 10^131071.
func numericHolds(s string) bool {
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil || e >= 1<<30-1 || e <= -(1<<30-1) {
			return false
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(strings.TrimPrefix(mant, "-"), ".")
	if int64(len(frac))-exp > 16383 {
		return false
	}
	if sig := strings.TrimLeft(intPart, "0"); sig != "" {
		return int64(len(sig))-1+exp <= 131071
	}
	if sig := strings.TrimLeft(frac, "0"); sig != "" {
		return -int64(len(frac)-len(sig))-1+exp <= 131071
	}
	return true
}
