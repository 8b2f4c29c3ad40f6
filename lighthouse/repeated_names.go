package lighthouse

import (
	"bytes"
	"fmt"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// decodeRepeatedNames decodes an answer the decoder refused for a member
// name repeated in one of its objects (err). The decoder checks names in
// every object it reads, so one entry with a name twice (in the entry, its
// time or error, a step) failed the whole answer; such an entry is that
// entry's fault, and goes to Invalid (decodeStatus reads each entry with
// the check) while the others are applied. A name repeated in the envelope
// itself (the answer's object or data's) still fails the answer: which of
// the two to read is anyone's guess.
func decodeRepeatedNames(body []byte, capHint int, now time.Time, err error) (*StatusResponse, error) {
	if envErr := envelopeNamesOnce(body); envErr != nil {
		return nil, malformed("status response: %v", envErr)
	}
	out, rerr := decodeAnswerWith(body, capHint, now, jsontext.AllowDuplicateNames(true))
	if rerr != nil {
		return nil, malformed("status response: %v", err) // what was first wrong with it
	}
	return out, nil
}

// envelopeNamesOnce reports a member name repeated in the answer's object
// or in its data object.
func envelopeNamesOnce(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true))
	var walk func(path string, depth int) error
	walk = func(path string, depth int) error {
		if dec.PeekKind() != '{' || depth > 1 {
			return dec.SkipValue()
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		seen := map[string]bool{}
		for dec.PeekKind() != '}' {
			tok, err := dec.ReadToken()
			if err != nil {
				return err
			}
			name := tok.String()
			if seen[name] {
				return fmt.Errorf("member name %.40q repeated in %s", name, path)
			}
			seen[name] = true
			if name == "data" && depth == 0 {
				err = walk("/data", depth+1)
			} else {
				err = dec.SkipValue()
			}
			if err != nil {
				return err
			}
		}
		_, err := dec.ReadToken()
		return err
	}
	return walk("the answer", 0)
}
