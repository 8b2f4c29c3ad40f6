package config

import (
	"math"
	"unicode"
)

// Secrets are judged by an estimate of their strength in bits, not by their
// length alone: 16 × "a" passed the monitor's length rule, and 32 × "a" the
// HS256 secret's. The estimate is deliberately crude and errs low on what
// people type: the characters after a pattern is taken out (a secret that
// repeats a shorter one counts once; a character that repeats the one
// before, or continues a run such as "abcd" or "4321", counts nothing),
// times log2 of the alphabet its character classes span (lower case 26,
// upper case 26, digits 10, other ASCII 33, anything else 100). A random
// 16-character lower-case-and-digit password scores 82 bits, a random
// 32-character hex secret 165; "aaaaaaaaaaaaaaaa" scores 5.
const (
	// MinMonitorSecretBits is the least strength of MONITOR_PASSWORD and
	// MONITOR_TOKEN: at 5 failed logins a minute (the throttle's default),
	// 2^60 guesses take longer than any deployment lives, and a stolen
	// hash of it is out of an offline attacker's reach for years.
	MinMonitorSecretBits = 60
	// MinHS256SecretBits is the least strength of API_JWT_HS256_SECRET: a
	// token's signature can be attacked offline, so the secret must resist
	// a search of 2^128.
	MinHS256SecretBits = 128
)

// secretBits estimates the strength of s in bits (see above).
func secretBits(s string) float64 {
	r := []rune(s)
	r = r[:period(r)]
	var lower, upper, digit, ascii, other bool
	for _, c := range r {
		switch {
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		case c >= '0' && c <= '9':
			digit = true
		case c < unicode.MaxASCII:
			ascii = true
		default:
			other = true
		}
	}
	alphabet := 0
	for _, c := range []struct {
		present bool
		size    int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {ascii, 33}, {other, 100}} {
		if c.present {
			alphabet += c.size
		}
	}
	if alphabet < 2 {
		return 0
	}
	return float64(informative(r)) * math.Log2(float64(alphabet))
}

// period is the length of the shortest prefix of r that r repeats
// ("abcabcab": 3), or len(r).
func period(r []rune) int {
	for p := 1; p < len(r); p++ {
		repeats := true
		for i := p; i < len(r); i++ {
			if r[i] != r[i-p] {
				repeats = false
				break
			}
		}
		if repeats {
			return p
		}
	}
	return len(r)
}

// informative counts the characters of r that neither repeat the one before
// nor continue the step between the two before ("abc", "987").
func informative(r []rune) int {
	n := 0
	for i, c := range r {
		switch {
		case i > 0 && c == r[i-1]:
		case i > 1 && c-r[i-1] == r[i-1]-r[i-2] && (c-r[i-1] == 1 || c-r[i-1] == -1):
		default:
			n++
		}
	}
	return n
}

// secret refuses a secret shorter than minChars characters or weaker than
// minBits; an empty one is not set, and others decide whether it must be.
// The reason never holds the value.
func (v *validator) secret(name, value string, minChars int, minBits float64) {
	switch {
	case value == "":
	case len([]rune(value)) < minChars:
		v.add(name, "must be at least %d characters", minChars)
	case secretBits(value) < minBits:
		v.add(name, "is too weak: about %.0f bits, at least %.0f bits wanted (repeated, sequential or single-class characters count little); use a random one, e.g. openssl rand -base64 32",
			secretBits(value), minBits)
	}
}
