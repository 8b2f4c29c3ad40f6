package config

import "github.com/vagov/lighthouse526/vagov/statsd"

// statsd checks STATSD_ADDR and STATSD_TAGS with the rules of the client
// that will use them.
func (v *validator) statsd(c *Config) {
	if c.StatsDAddr != "" {
		if err := statsd.ValidateAddr(c.StatsDAddr); err != nil {
			v.add("STATSD_ADDR", "%v (or empty to disable)", err)
		}
	}
	for i, t := range c.StatsDTags {
		if err := statsd.ValidateTag(t); err != nil {
			v.add("STATSD_TAGS", "tag %d: %v (comma-separated key:value tags)", i+1, err)
			return
		}
	}
}
