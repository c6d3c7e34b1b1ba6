package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/store"
)

func runTables(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tables", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	db, err := store.NewClient(ctx, store.ClientOptions{Region: cfg.Region, Endpoint: cfg.DynamoDBEndpoint})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if err := createTables(ctx, cfg, db); err != nil {
		return err
	}
	fmt.Printf("tables ready: %s, %s, %s\n", cfg.EventsTable, cfg.IdentitiesTable, cfg.TouchesTable)
	return nil
}

func tablesOf(cfg config.Config) store.Tables {
	return store.Tables{Events: cfg.EventsTable, Identities: cfg.IdentitiesTable, Touches: cfg.TouchesTable}
}

// createTables creates the tables and, when retention is configured, turns on TTL where
// the endpoint supports it (dynalite does not; that is a warning, not a failure).
func createTables(ctx context.Context, cfg config.Config, db storeClient) error {
	if err := store.CreateTables(ctx, db, tablesOf(cfg)); err != nil {
		return err
	}
	log := logging.New(os.Stderr, false)
	if cfg.RetentionDays > 0 {
		if err := store.EnableTTL(ctx, db, cfg.EventsTable); err != nil {
			log.Warn("TTL not enabled on events table; raw events will not expire on this endpoint", "err", err)
		}
	}
	if cfg.TouchRetentionDays > 0 {
		if err := store.EnableTTL(ctx, db, cfg.TouchesTable); err != nil {
			log.Warn("TTL not enabled on touches table", "err", err)
		}
	}
	return nil
}
