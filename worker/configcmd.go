package main

import (
	"context"
	"io"
)

func init() {
	register("config", "print the resolved configuration, secrets redacted", configCmd)
}

func configCmd(_ context.Context, _ []string, stdout, _ io.Writer) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, cfg.String())
	return err
}
