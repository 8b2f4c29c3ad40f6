package config

import "unicode/utf8"

// MaxLogNameBytes bounds LOG_APPLICATION and LOG_ENVIRONMENT: semantic_logger
// names like vets-api's ("vets-api", "production") are a few words, and each
// is written into every log line.
const MaxLogNameBytes = 100

// logName refuses a semantic_logger application or environment name (which
// every log line carries, and Datadog facets and people's terminals read)
// that holds a control character or invalid UTF-8, or is absurdly long, as
// SIDEKIQ_NAMESPACE is refused. The value is never echoed.
func (v *validator) logName(name, value string) {
	switch {
	case hasControl(value) || !utf8.ValidString(value):
		v.add(name, "must be printable UTF-8 text without control characters")
	case len(value) > MaxLogNameBytes:
		v.add(name, "must be at most %d bytes, got %d", MaxLogNameBytes, len(value))
	}
}
