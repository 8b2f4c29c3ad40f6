package lighthouse

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// jsonbNumbers reports whether every number of raw, one valid JSON value,
// is one Postgres's numeric reads, as jsonb stores numbers: JSON allows
// 1e999999, jsonb refuses it ("value overflows numeric format", SQLSTATE
// 22003), and one such number in one entry failed its batch's one write,
// every cycle (found by tasks.FuzzStatusBatchPath).
//
// Only a number with an exponent of five digits or more, or one of more
// than numericMaxScale-9999 characters (0.000…1e-9999), can be out of
// range, so the common entry is only searched for such an exponent; an
// entry that has one, or is that long, is read token by token.
func jsonbNumbers(raw []byte) bool {
	if len(raw) <= numericMaxScale-9999 && !hasLongExponent(raw) {
		return true
	}
	dec := jsontext.NewDecoder(bytes.NewReader(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return true // the end (raw is valid JSON: its decoding said so)
		}
		if tok.Kind() == '0' && !numericReads(tok.String()) {
			return false
		}
	}
}

// Postgres 15's numeric limits (src/backend/utils/adt/numeric.c, and tried
// with psql: '1e131071'::jsonb reads, '1e131072' and '1e-16384' do not; an
// exponent of 2^30-1 or more is refused even for zero).
const (
	numericMaxScale  = 16383     // digits after the point (NUMERIC_DSCALE_MAX)
	numericMaxWeight = 131071    // power of ten of the first significant digit (NUMERIC_WEIGHT_MAX+1 groups of 4, less one)
	numericMaxExp    = 1<<30 - 1 // INT_MAX/2: the exponent's own bound
)

// hasLongExponent reports whether raw holds a digit, e or E, a sign or
// not, then five digits: in a number, an exponent that may be out of
// numeric's range (in a string, nothing; the caller reads the tokens to
// tell). One pass over the bytes, about a microsecond for a thousand (the
// common entry has none).
func hasLongExponent(raw []byte) bool {
	for i := 1; i+5 < len(raw); i++ {
		if raw[i]|0x20 != 'e' || raw[i-1]-'0' > 9 {
			continue
		}
		k := i + 1
		if raw[k] == '-' || raw[k] == '+' {
			k++
		}
		n := 0
		for k+n < len(raw) && raw[k+n]-'0' <= 9 {
			n++
		}
		if n >= 5 {
			return true
		}
	}
	return false
}

// numericReads reports whether Postgres's numeric reads the JSON number s:
// its exponent under numericMaxExp in size, at most numericMaxScale digits
// after the point once the exponent is applied (those written, trailing
// zeros too, less the exponent), and its first significant digit no higher
// than 10^numericMaxWeight.
func numericReads(s string) bool {
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := strconv.ParseInt(strings.TrimPrefix(s[i+1:], "+"), 10, 64)
		if err != nil || e >= numericMaxExp || e <= -numericMaxExp {
			return false
		}
		exp = e
	}
	intPart, frac, _ := strings.Cut(strings.TrimPrefix(mant, "-"), ".")
	if int64(len(frac))-exp > numericMaxScale {
		return false
	}
	if sig := strings.TrimLeft(intPart, "0"); sig != "" {
		return int64(len(sig))-1+exp <= numericMaxWeight
	}
	if sig := strings.TrimLeft(frac, "0"); sig != "" {
		return exp-int64(len(frac)-len(sig))-1 <= numericMaxWeight
	}
	return true
}
