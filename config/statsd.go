package config

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
)

// StatsDNone is the STATSD_ADDR that turns StatsD off on purpose: no client,
// and none of the start-up warning an unset STATSD_ADDR gives.
const StatsDNone = "none"

// unifiedTags are Datadog's unified service tags, by the variable that sets
// each.
var unifiedTags = []struct{ env, key string }{
	{"DD_ENV", "env"}, {"DD_SERVICE", "service"}, {"DD_VERSION", "version"},
}

// statsd checks STATSD_ADDR, STATSD_TAGS and the unified service tags with
// the rules of the client that will use them.
func (v *validator) statsd(c *Config) {
	if addr := c.StatsDAgentAddr(); addr != "" {
		if err := ValidateStatsDAddr(addr); err != nil {
			v.add("STATSD_ADDR", "%v (or empty, or none, to send none)", err)
		}
	}
	for i, t := range c.StatsDTags {
		if err := ValidateStatsDTag(t); err != nil {
			v.add("STATSD_TAGS", "tag %d: %v (comma-separated key:value tags)", i+1, err)
			return
		}
	}
	for _, u := range unifiedTags {
		value := c.unifiedTag(u.env)
		if value == "" {
			continue
		}
		if err := ValidateStatsDTag(u.key + ":" + value); err != nil {
			v.add(u.env, "%v", err)
		}
		for i, t := range c.StatsDTags {
			if strings.HasPrefix(t, u.key+":") {
				v.add("STATSD_TAGS", "tag %d: %s is %s's to set (set one of them)", i+1, t, u.env)
			}
		}
	}
}

// StatsDAgentAddr is where StatsD goes: STATSD_ADDR, or "" when it is unset
// or none.
func (c *Config) StatsDAgentAddr() string {
	if c.StatsDAddr == StatsDNone {
		return ""
	}
	return c.StatsDAddr
}

// StatsDOptedOut reports STATSD_ADDR=none: no StatsD, and nothing said.
func (c *Config) StatsDOptedOut() bool { return c.StatsDAddr == StatsDNone }

// StatsDTagList is the tags of every StatsD line: STATSD_TAGS, then env,
// service and version from DD_ENV, DD_SERVICE and DD_VERSION, when set.
func (c *Config) StatsDTagList() []string {
	tags := append([]string(nil), c.StatsDTags...)
	for _, u := range unifiedTags {
		if value := c.unifiedTag(u.env); value != "" {
			tags = append(tags, u.key+":"+value)
		}
	}
	return tags
}

func (c *Config) unifiedTag(env string) string {
	switch env {
	case "DD_ENV":
		return c.DDEnv
	case "DD_SERVICE":
		return c.DDService
	default:
		return c.DDVersion
	}
}

// ValidateStatsDAddr checks a DogStatsD address: host:port over UDP, with a
// host and a port from 1 to 65535 (a unix socket is not supported). The one
// rule: vagov/statsd's client checks its address with it too.
func ValidateStatsDAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || strings.Contains(addr, "://") {
		return errors.New("must be host:port (UDP), e.g. 127.0.0.1:8125")
	}
	if host == "" {
		return errors.New("names no host (host:port, e.g. 127.0.0.1:8125)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port must be a number from 1 to 65535, got %q", port)
	}
	return nil
}

// ValidateStatsDTag checks one constant tag ("key:value" or "value"): not
// empty, no whitespace, and none of '|', '#' or ',', which delimit the fields
// and tags of a DogStatsD line. vagov/statsd's client checks its tags with it.
func ValidateStatsDTag(tag string) error {
	switch {
	case tag == "":
		return errors.New("empty tag")
	case strings.ContainsFunc(tag, unicode.IsSpace):
		return fmt.Errorf("tag %q contains whitespace", tag)
	case strings.ContainsAny(tag, "|#,"):
		return fmt.Errorf("tag %q contains '|', '#' or ','", tag)
	}
	return nil
}
