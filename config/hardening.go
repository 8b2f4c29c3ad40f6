package config

import "time"

// minHTTPTimeout is the shortest of the HTTP servers' timeouts accepted.
const minHTTPTimeout = 100 * time.Millisecond

// MinMonitorSecretChars is the shortest MONITOR_PASSWORD or MONITOR_TOKEN
// accepted: the monitor is reachable by anyone on its network, and a short
// secret falls to guessing even at a throttled rate.
const MinMonitorSecretChars = 16

// hardening validates the settings that bound what a hostile or careless
// client can do: the HTTP servers' timeouts, the API's token lifetime and
// poll cap, and the monitor's credentials.
func (v *validator) hardening(c *Config) {
	// Under 100 ms a client across a WAN could not send its headers.
	v.durationRange("HTTP_READ_HEADER_TIMEOUT", c.HTTPReadHeaderTimeout, minHTTPTimeout, time.Hour)
	v.durationRange("HTTP_READ_TIMEOUT", c.HTTPReadTimeout, minHTTPTimeout, time.Hour)
	v.durationRange("HTTP_WRITE_TIMEOUT", c.HTTPWriteTimeout, minHTTPTimeout, time.Hour)
	v.durationRange("HTTP_IDLE_TIMEOUT", c.HTTPIdleTimeout, minHTTPTimeout, time.Hour)
	if c.HTTPReadTimeout > 0 && c.HTTPReadHeaderTimeout > c.HTTPReadTimeout {
		v.add("HTTP_READ_HEADER_TIMEOUT", "must not be longer than HTTP_READ_TIMEOUT (%s)", c.HTTPReadTimeout)
	}

	v.durationRange("API_JWT_MAX_LIFETIME", c.APIJWTMaxLifetime, time.Minute, 24*time.Hour)
	v.intRange("API_POLLS_PER_MINUTE", c.APIPollsPerMinute, 1, 10000)

	v.secret("MONITOR_PASSWORD", c.MonitorPassword, MinMonitorSecretChars, MinMonitorSecretBits)
	v.secret("MONITOR_TOKEN", c.MonitorToken, MinMonitorSecretChars, MinMonitorSecretBits)
	credentials := c.MonitorUsername != "" || c.MonitorToken != ""
	if credentials && !c.MonitorInsecure && !isLoopback(c.MonitorAddr) {
		v.add("MONITOR_INSECURE", "the monitor serves plain HTTP and MONITOR_ADDR is not a loopback address: "+
			"its credentials would cross the network in clear text; serve it behind TLS and set MONITOR_INSECURE=true to say so")
	}
	v.intRange("MONITOR_LOGIN_FAILURES_PER_MINUTE", c.MonitorLoginFailuresPerMinute, 1, 1000)
}
