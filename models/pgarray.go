package models

import (
	"database/sql/driver"
	"strings"
)

// textArray binds a []string as ONE text[] parameter. GORM expands a plain
// slice into a list of parameters, whose statement text (and so its prepared
// plan) changes with the list's length and whose custom plans are re-planned
// on every call; one array parameter keeps a single cached generic plan.
type textArray []string

// Value renders the array literal: every element quoted, with backslashes and
// quotes escaped.
func (a textArray) Value() (driver.Value, error) {
	var b strings.Builder
	n := 2
	for _, s := range a {
		n += len(s) + 3
	}
	b.Grow(n)
	b.WriteByte('{')
	for i, s := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ {
			if c := s[j]; c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}
