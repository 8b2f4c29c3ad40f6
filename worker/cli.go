package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// errHelp ends a command whose usage was printed on request (-h, --help):
// the process exits 0.
var errHelp = errors.New("help printed")

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

// parseFlags parses a subcommand's arguments. -h and --help print its usage
// to stdout and return errHelp; a bad flag, or more than maxArgs positional
// arguments, is a usage error (exit 2) naming what was wrong.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, synopsis string, maxArgs int) error {
	fs.SetOutput(io.Discard) // the error is returned, not printed twice
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout, fs, synopsis)
		return errHelp
	}
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("%w (see worker %s --help)", err, fs.Name())}
	}
	if fs.NArg() > maxArgs {
		return &exitError{code: 2, err: fmt.Errorf("unexpected argument %q (see worker %s --help)", fs.Arg(maxArgs), fs.Name())}
	}
	return nil
}

// printUsage prints "usage: worker <synopsis>", then the flags if any.
func printUsage(w io.Writer, fs *flag.FlagSet, synopsis string) {
	fmt.Fprintf(w, "usage: worker %s\n", synopsis)
	if fs == nil {
		return
	}
	has := false
	fs.VisitAll(func(*flag.Flag) { has = true })
	if has {
		fmt.Fprintln(w, "\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// flagCheck collects invalid flag values, to refuse them all at once (exit
// 2) before the command touches anything.
type flagCheck []string

func (c *flagCheck) positive(name string, v int64) {
	if v <= 0 {
		*c = append(*c, fmt.Sprintf("--%s must be a positive number, got %d", name, v))
	}
}

func (c *flagCheck) notNegative(name string, v int64) {
	if v < 0 {
		*c = append(*c, fmt.Sprintf("--%s must not be negative, got %d", name, v))
	}
}

func (c *flagCheck) notNegativeDuration(name string, d time.Duration) {
	if d < 0 {
		*c = append(*c, fmt.Sprintf("--%s must not be negative, got %s", name, d))
	}
}

func (c *flagCheck) positiveDuration(name string, d time.Duration) {
	if d <= 0 {
		*c = append(*c, fmt.Sprintf("--%s must be a positive duration, got %s", name, d))
	}
}

func (c *flagCheck) fraction(name string, v float64) {
	if math.IsNaN(v) || v < 0 || v > 1 {
		*c = append(*c, fmt.Sprintf("--%s must be between 0 and 1, got %g", name, v))
	}
}

// floatRange refuses a number outside [lo, hi], and NaN and the infinities,
// which no comparison refuses.
func (c *flagCheck) floatRange(name string, v, lo, hi float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		*c = append(*c, fmt.Sprintf("--%s must be a number above 0 and at most %g, got %g", name, hi, v))
	}
}

func (c *flagCheck) intRange(name string, v, lo, hi int64) {
	if v < lo || v > hi {
		*c = append(*c, fmt.Sprintf("--%s must be between %d and %d, got %d", name, lo, hi, v))
	}
}

func (c *flagCheck) durationRange(name string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		*c = append(*c, fmt.Sprintf("--%s must be between %s and %s, got %s", name, lo, hi, d))
	}
}

func (c flagCheck) err() error {
	if len(c) == 0 {
		return nil
	}
	return &exitError{code: 2, err: errors.New(strings.Join(c, "; "))}
}

// printable escapes control characters (C0, DEL, C1), Unicode format
// characters (bidirectional overrides) and invalid UTF-8 in text that came
// from outside (Lighthouse's error.detail, database rows) before it reaches
// a terminal: an escape sequence in it would otherwise clear the screen or
// rewrite what the operator reads.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && (unicode.IsControl(r)):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}
