package config

import "reflect"

// What container images and deployment manifests need to know about the
// configuration; their specs (spec/image, deploy/kubernetes) check them
// against these, so a variable or a route renamed here fails those specs.

// Routes of the ops server that `worker run` serves on METRICS_ADDR (and
// `worker monitor` its health on MONITOR_ADDR): what probes and scrapers
// call.
const (
	MetricsPath = "/metrics"
	HealthzPath = "/healthz" // the process is alive
	ReadyzPath  = "/readyz"  // Redis and Postgres answer
)

// EnvNames lists every environment variable Load reads, in declaration
// order.
func EnvNames() []string {
	t := reflect.TypeFor[Config]()
	names := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if name := t.Field(i).Tag.Get("env"); name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// IsSecret reports whether a variable's value is a secret or may carry one
// (a password in DATABASE_URL or REDIS_URL): such a value is redacted when
// printed, and a deployment takes it from a secret store, never a literal.
func IsSecret(name string) bool {
	return secretVars[name] || urlVars[name]
}
