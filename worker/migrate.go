package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/vagov/lighthouse526/db"
)

func migrateCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	verb := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	printIndexes := fs.Bool("print-recommended-indexes", false,
		"print the indexes the worker wants on VA.gov's lighthouse526_document_uploads, as SQL and as a Rails migration, and change nothing")
	synopsis := "migrate [up | down | status] | migrate --print-recommended-indexes\n\n" +
		"up applies every pending migration (the default), down rolls back the last one, status lists them.\n" +
		"In a database where VA.gov's tables exist, migrations create and change only the worker's own tables."
	if err := parseFlags(fs, args, stdout, synopsis, 0); err != nil {
		return err
	}
	if *printIndexes {
		// No database: the owners apply these wherever they run migrations.
		fmt.Fprintf(stdout, "%s\n-- As a Rails migration (db/migrate/<timestamp>_add_lighthouse526_polling_indexes.rb):\n\n%s",
			db.RecommendedIndexesSQL(), db.RecommendedIndexesRails())
		return nil
	}
	if verb != "up" && verb != "down" && verb != "status" {
		return &exitError{code: 2, err: fmt.Errorf("unknown verb %q: use up, down or status", verb)}
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	gdb, err := openDB(ctx, cfg, newLogger(cfg), "lighthouse526-migrate")
	if err != nil {
		return err
	}
	defer db.Close(gdb)
	if verb == "up" {
		// Before anything changes: VA.gov's tables, where they exist, must be
		// as the worker expects; then the worker's own schema.
		if err := db.CheckReferenceTables(ctx, gdb); err != nil {
			return err
		}
		if err := db.EnsureSchema(ctx, gdb, cfg.DatabaseSchema); err != nil {
			return err
		}
	}
	m, err := db.NewMigrator(gdb)
	if err != nil {
		return err
	}
	switch verb {
	case "up":
		rs, err := m.Up(ctx)
		for _, r := range rs {
			fmt.Fprintf(stdout, "applied   %05d %s\n", r.Version, r.Name)
		}
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			fmt.Fprintln(stdout, "schema is up to date")
		}
		return db.CheckSchema(ctx, gdb)
	case "down":
		rs, err := m.Down(ctx)
		for _, r := range rs {
			fmt.Fprintf(stdout, "rolled back %05d %s\n", r.Version, r.Name)
		}
		return err
	case "status":
		ss, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range ss {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(stdout, "%-8s %05d %s\n", state, s.Version, s.Name)
		}
	default:
		return &exitError{code: 2, err: fmt.Errorf("unknown verb %q: use up, down or status", verb)}
	}
	return nil
}
