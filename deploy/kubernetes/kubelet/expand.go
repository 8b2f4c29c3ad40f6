package kubelet

import "strings"

// Expand replaces each $(NAME) of s by lookup's value of NAME, by
// Kubernetes' rules for env values, command and args: $$ is a literal $, a
// reference lookup does not know stays as written, as does an unclosed $(,
// and a $ before any other character is kept with it.
func Expand(s string, lookup func(name string) (string, bool)) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch next := s[i+1]; next {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				// Unclosed: "$(" as written, the rest read on.
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(next)
			i++
		}
	}
	return b.String()
}

// References lists the $(NAME) references of s that Expand would replace
// if NAME were known ($$( is an escape, not a reference).
func References(s string) []string {
	var names []string
	Expand(s, func(name string) (string, bool) {
		names = append(names, name)
		return "", false
	})
	return names
}
