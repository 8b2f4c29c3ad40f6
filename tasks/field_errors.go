package tasks

import (
	"sort"
	"strings"
)

// FieldErrors are the problems of an invalid payload, by JSON field name. The
// enqueue API answers them as {"errors": {...}}; a handler archives the task.
type FieldErrors map[string]string

func (e FieldErrors) Error() string {
	names := make([]string, 0, len(e))
	for n := range e {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + e[n]
	}
	return strings.Join(parts, "; ")
}

// orNil returns e, or nil when it holds no problem.
func (e FieldErrors) orNil() error {
	if len(e) == 0 {
		return nil
	}
	return e
}
