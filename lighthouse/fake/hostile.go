package fake

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
)

// Hostile entry kinds (Faults.HostileKinds): what one status entry of a 200
// answer can carry that no real document's should, each once seen or
// feared in production. The rest of the answer stays as it was.
const (
	HostileLoneSurrogate = "lone_surrogate" // a step description holding the escape \ud800 alone
	HostileInvalidUTF8   = "invalid_utf8"   // a step description holding the bytes 0xff 0xfe
	HostileFarFuture     = "far_future"     // endTime 9999999999999999, past Postgres's timestamps
	HostileAncient       = "ancient"        // startTime in 1200 BC
	HostileReversed      = "reversed"       // endTime a day before startTime
	HostileHugeField     = "huge_field"     // a step description of HugeFieldBytes (at most one an answer)
	HostileDuplicate     = "duplicate"      // the entry twice
	HostileWrongType     = "wrong_type"     // the document's status a number
)

// HostileKinds is every hostile kind, the default of Faults.HostileKinds.
var HostileKinds = []string{
	HostileLoneSurrogate, HostileInvalidUTF8, HostileFarFuture, HostileAncient,
	HostileReversed, HostileHugeField, HostileDuplicate, HostileWrongType,
}

// HugeFieldBytes is the size of a HostileHugeField description: 5 MB. One an
// answer at most, so an answer stays within the client's 10 MiB body limit.
const HugeFieldBytes = 5 << 20

var (
	descriptionKey = []byte(`"description":"`)
	hugeText       = strings.Repeat("x", HugeFieldBytes)
	endTimeMember  = regexp.MustCompile(`"endTime":(-?[0-9]+|null)`)
	startTimeValue = regexp.MustCompile(`"startTime":(-?[0-9]+)`)
	timeObject     = regexp.MustCompile(`"time":\{[^}]*\}`)
	documentStatus = regexp.MustCompile(`"status":"[A-Z_]*"`)
)

// makeHostile makes each of statuses hostile with probability f.HostileRate,
// of the next kind of f.HostileKinds in turn (so a run of as many hostile
// entries as kinds serves every kind), and counts what it served. The
// statuses are the documents' rendered bytes, which it never changes in
// place (they are cached).
func (s *Server) makeHostile(statuses []json.RawMessage, f Faults) []json.RawMessage {
	kinds := f.HostileKinds
	if len(kinds) == 0 {
		kinds = HostileKinds
	}
	out := make([]json.RawMessage, 0, len(statuses)+1)
	huge := false
	for _, st := range statuses {
		if !s.chance(f.HostileRate) {
			out = append(out, st)
			continue
		}
		s.mu.Lock()
		kind := kinds[s.hostileSeq%len(kinds)]
		if kind == HostileHugeField && huge && len(kinds) > 1 {
			s.hostileSeq++
			kind = kinds[s.hostileSeq%len(kinds)]
		}
		s.hostileSeq++
		if kind == HostileHugeField && huge {
			s.mu.Unlock()
			out = append(out, st)
			continue
		}
		if s.hostileServed == nil {
			s.hostileServed = map[string]int{}
		}
		s.hostileServed[kind]++
		s.mu.Unlock()
		huge = huge || kind == HostileHugeField
		bad := hostile(st, kind)
		out = append(out, bad)
		if kind == HostileDuplicate {
			out = append(out, bad)
		}
	}
	return out
}

// hostile is a copy of the status object st made hostile of kind.
func hostile(st json.RawMessage, kind string) json.RawMessage {
	description := func(prefix string) json.RawMessage {
		return bytes.Replace(st, descriptionKey, append(append([]byte(nil), descriptionKey...), prefix...), 1)
	}
	switch kind {
	case HostileLoneSurrogate:
		return description(`disk \ud800 full: `)
	case HostileInvalidUTF8:
		return description("caf\xe9 \xff\xfe: ")
	case HostileHugeField:
		return description(hugeText)
	case HostileFarFuture:
		if endTimeMember.Match(st) {
			return endTimeMember.ReplaceAll(st, []byte(`"endTime":9999999999999999`))
		}
		return bytes.Replace(st, []byte(`"time":{`), []byte(`"time":{"endTime":9999999999999999,`), 1)
	case HostileAncient:
		return startTimeValue.ReplaceAll(st, []byte(`"startTime":-99999999999999`))
	case HostileReversed:
		return timeObject.ReplaceAll(st, []byte(`"time":{"startTime":1767312000000,"endTime":1767225600000}`))
	case HostileWrongType:
		done := false
		return documentStatus.ReplaceAllFunc(st, func(m []byte) []byte {
			if done {
				return m
			}
			done = true
			return []byte(`"status":7`)
		})
	}
	return append(json.RawMessage(nil), st...)
}

// HostileServed counts the hostile entries served, by kind.
func (s *Server) HostileServed() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.hostileServed))
	for k, v := range s.hostileServed {
		out[k] = v
	}
	return out
}
