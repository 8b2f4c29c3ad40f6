package config

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strconv"
)

// The Config holds secrets in plain fields, so every way it can be printed
// or encoded whole goes through Redacted: String (fmt's %v and %s, slog's
// text handler), LogValue (every slog handler), MarshalJSON and GoString
// (%#v). Printing a Config value rather than a pointer bypasses all of them:
// pass *Config around.

// LogValue logs the redacted configuration as a group of KEY=value.
func (c *Config) LogValue() slog.Value {
	kvs := c.Redacted()
	attrs := make([]slog.Attr, 0, len(kvs))
	for _, kv := range kvs {
		attrs = append(attrs, slog.String(kv[0], kv[1]))
	}
	return slog.GroupValue(attrs...)
}

// MarshalJSON encodes the redacted configuration as one object of KEY: value,
// in declaration order.
func (c *Config) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range c.Redacted() {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(kv[0])
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(kv[1])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// GoString prints the redacted configuration for %#v.
func (c *Config) GoString() string {
	var b bytes.Buffer
	b.WriteString("&config.Config{")
	for i, kv := range c.Redacted() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(kv[0])
		b.WriteByte(':')
		b.WriteString(strconv.Quote(kv[1]))
	}
	b.WriteByte('}')
	return b.String()
}
