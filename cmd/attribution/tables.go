package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/store"
)

func runTables(ctx context.Context, args []string) error {
	fs := newFlags("tables", "tables", "Creates the tables named by EVENTS_TABLE, IDENTITIES_TABLE and TOUCHES_TABLE, idempotently.")
	if err := fs.Parse(args); err != nil {
		return err
	}
	env, err := operatorEnv(ctx)
	if err != nil {
		return err
	}
	cfg, db := env.Config, env.DB
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := createTables(ctx, cfg, db); err != nil {
		return err
	}
	fmt.Printf("tables ready: %s\n", strings.Join(tablesOf(cfg).Names(), ", "))
	return nil
}

func tablesOf(cfg config.Config) store.Tables {
	return store.Tables{Events: cfg.EventsTable, Identities: cfg.IdentitiesTable, Touches: cfg.TouchesTable, Conversions: cfg.ConversionsTable}
}

// createTables creates the tables and, when retention is configured, turns on TTL where
// the endpoint supports it (dynalite does not; that is a warning, not a failure).
func createTables(ctx context.Context, cfg config.Config, db storeClient) error {
	if err := store.CreateTables(ctx, db, tablesOf(cfg)); err != nil {
		return err
	}
	log := logging.New(os.Stderr, false)
	for _, t := range []struct {
		table, variable string
		days            int
	}{
		{cfg.EventsTable, "RETENTION_DAYS", cfg.RetentionDays},
		{cfg.TouchesTable, "TOUCH_RETENTION_DAYS", cfg.TouchRetentionDays},
	} {
		if t.days <= 0 {
			continue
		}
		err := store.EnableTTL(ctx, db, t.table)
		switch {
		case errors.Is(err, store.ErrTTLUnsupported):
			log.Warn("TTL not enabled: this endpoint has no UpdateTimeToLive (dynalite). Items get "+
				store.AttrExpiresAt+" from "+t.variable+" but nothing deletes them here; on AWS DynamoDB TTL deletes them",
				"table", t.table, "days", t.days)
		case err != nil:
			log.Warn("TTL not enabled: items get "+store.AttrExpiresAt+" but will not expire until TTL is enabled on the table",
				"table", t.table, "variable", t.variable, "err", err)
		}
	}
	return nil
}
