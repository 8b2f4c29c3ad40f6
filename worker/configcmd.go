package main

import (
	"context"
	"flag"
	"io"
)

func configCmd(_ context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout, "config\n\nPrints the configuration resolved from the environment, one KEY=value a line, secrets redacted.", 0); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	_, err = io.WriteString(stdout, cfg.String())
	return err
}
