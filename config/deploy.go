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

// IsSecret reports whether a variable's value is a secret or carries one by
// design (the password of DATABASE_URL, REDIS_URL, SIDEKIQ_REDIS_URL): such
// a value is redacted or masked when printed, and a deployment takes it from
// a secret store, never a literal. Other URLs are masked only where they
// hold a secret query parameter, and are not secrets themselves.
func IsSecret(name string) bool {
	return secretVars[name] || credentialURLVars[name]
}
