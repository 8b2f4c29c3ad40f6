package semanticlogger

import "log/slog"

// semantic_logger's two levels that slog lacks, for callers that need them
// (asynq's Fatal): below debug and above error, four apart as slog's are.
const (
	LevelTrace = slog.LevelDebug - 4
	LevelFatal = slog.LevelError + 4
)

// level is semantic_logger's name and index of a level
// (lib/semantic_logger/levels.rb: LEVELS = trace debug info warn error fatal).
type level struct {
	name  string
	index int
}

var (
	levelTrace = level{"trace", 0}
	levelDebug = level{"debug", 1}
	levelInfo  = level{"info", 2}
	levelWarn  = level{"warn", 3}
	levelError = level{"error", 4}
	levelFatal = level{"fatal", 5}
)

// levelOf maps a slog level to semantic_logger's: each slog level and the
// ones above it up to the next (slog.LevelWarn+1 is still warn).
func levelOf(l slog.Level) level {
	switch {
	case l < slog.LevelDebug:
		return levelTrace
	case l < slog.LevelInfo:
		return levelDebug
	case l < slog.LevelWarn:
		return levelInfo
	case l < slog.LevelError:
		return levelWarn
	case l < LevelFatal:
		return levelError
	default:
		return levelFatal
	}
}

// SlogLevelNames is a slog.HandlerOptions.ReplaceAttr for slog's own
// handlers (LOG_FORMAT=slog or text): LevelTrace and LevelFatal print as
// TRACE and FATAL instead of DEBUG-4 and ERROR+4.
func SlogLevelNames(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 || a.Key != slog.LevelKey {
		return a
	}
	if l, ok := a.Value.Any().(slog.Level); ok {
		switch {
		case l == LevelTrace:
			a.Value = slog.StringValue("TRACE")
		case l == LevelFatal:
			a.Value = slog.StringValue("FATAL")
		}
	}
	return a
}
