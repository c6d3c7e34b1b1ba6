package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dynalite"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/store"
)

type storeClient = *dynamodb.Client

func runServe(ctx context.Context, args []string) error {
	fs := newFlags("serve", "serve [flags]", "Runs every route and stream consumer locally, as Lambda and DynamoDB streams would.")
	port := fs.Int("port", envInt("PORT", 3000), "port to listen on (PORT)")
	dataDir := fs.String("data", ".data", "directory for local data: dynalite's tables, the stream log, stream failures, the Segment outbox")
	startDynalite := fs.Bool("dynalite", false, "start dynalite with its data under -data (ignored when DYNAMODB_ENDPOINT is set)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := logging.New(os.Stderr, false)
	cfg, err := config.Load()
	if err != nil {
		return err
	}

	var dynaliteExited <-chan struct{} // nil, so never ready, without -dynalite
	if cfg.DynamoDBEndpoint == "" && *startDynalite {
		dl, err := dynalite.Start(ctx, dynalite.Options{Path: filepath.Join(*dataDir, "dynalite")})
		if err != nil {
			return err
		}
		defer dl.Stop()
		dynaliteExited = dl.Exited()
		defer func() {
			if err := dl.Err(); err != nil {
				log.Error("dynalite exited", "err", err)
			}
		}()
		cfg.DynamoDBEndpoint = dl.Endpoint
		log.Info("dynalite started", "endpoint", dl.Endpoint, "data", filepath.Join(*dataDir, "dynalite"))
	}
	if cfg.DynamoDBEndpoint == "" {
		log.Warn("DYNAMODB_ENDPOINT is empty: using AWS DynamoDB in " + cfg.Region)
	}
	if cfg.APIKey == "" {
		log.Warn("API_KEY is empty: /api/* (including DELETE erasures) and /segment/* are open to anyone who can reach this port. Set API_KEY before exposing it.")
	}
	if cfg.SegmentWriteKey == "" {
		log.Warn("SEGMENT_WRITE_KEY is empty: /segment/* write batches to " + filepath.Join(*dataDir, "segment-outbox.jsonl") + " instead of sending them")
	}
	if cfg.SharedSecret == "" {
		log.Warn("SEGMENT_SHARED_SECRET is empty: POST /events accepts unsigned bodies")
	}

	db, err := store.NewClient(ctx, store.ClientOptions{Region: cfg.Region, Endpoint: cfg.DynamoDBEndpoint})
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = createTables(tctx, cfg, db)
	cancel()
	if err != nil {
		return err
	}

	stack, err := server.New(server.Options{Config: cfg, DB: db, Log: log, DataDir: *dataDir})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)),
		Handler:           stack.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		// A whole request within the routes' own 29 s, plus slack: a client that stalls
		// mid-body loses its connection instead of holding it forever.
		ReadTimeout: 35 * time.Second,
		IdleTimeout: 2 * time.Minute,
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	}
	log.Info("serving", "url", "http://"+srv.Addr, "dashboard", "http://"+srv.Addr+"/", "events_table", cfg.EventsTable)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-dynaliteExited:
		// Serving on would answer every event with 503; stop where the cause is visible.
		log.Error("dynalite stopped on its own; shutting down")
		_ = srv.Close()
		// Queued records cannot be derived without a database; they stay in the stream's
		// log and are delivered after the next start (Close logs how many).
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = stack.Stream.Close(sctx)
		return errors.New("dynalite exited while serving; its output is above")
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests and queued stream records")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("http shutdown", "err", err)
	}
	// What is not done by the deadline stays in the stream's log for the next start;
	// Close logs how many records that is.
	_ = stack.Stream.Close(sctx)
	return nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
