package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/rederive"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/stream"
)

func runRederive(ctx context.Context, args []string) error {
	fs := newFlags("rederive", "rederive [-since D] [-until D] [-user ID]... [-anonymous ID]... [-push]",
		"Runs stored events through the stream consumers again, each visitor's in time order:\n"+
			"what was derived and lost (touches, identity links) is derived again, and nothing\n"+
			"changes where nothing was missing. Without -user or -anonymous the events table is\n"+
			"scanned once for the visitors in the window.")
	since := fs.String("since", "", "only events at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := fs.String("until", "", "only events before this time (RFC 3339 or YYYY-MM-DD)")
	var users, anons stringList
	fs.Var(&users, "user", "this userId's events and those of its linked anonymous ids (repeatable)")
	fs.Var(&anons, "anonymous", "this anonymousId's events (repeatable)")
	push := fs.Bool("push", false, "also push changed attribution to Segment, as real time does (REALTIME must be on)")
	dataDir := fs.String("data", ".data", "where records the consumers give up on (stream-failures.jsonl) and the dry-run outbox go")
	workers := fs.Int("workers", 8, "visitors read at once")
	asJSON := fs.Bool("json", false, "also print the result as JSON on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o := rederive.Options{Users: users, Anonymous: anons, Workers: *workers}
	var err error
	if o.Since, o.Until, err = parseWindow(*since, *until); err != nil {
		return err
	}
	env, err := operatorEnv(ctx)
	if err != nil {
		return err
	}
	so := server.Options{Config: env.Config, DB: env.DB, Log: env.Log, DataDir: *dataDir}
	if *push {
		if so.Segment, err = env.Segment(filepath.Join(*dataDir, "segment-outbox.jsonl")); err != nil {
			return err
		}
	}
	// In memory: an interrupted rederive is simply run again. Records the consumers give
	// up on go to the failure log, for `attribution redrive`.
	em, err := stream.NewEmulator(env.Log, stream.EmulatorOptions{Shards: 16, FailureLog: server.FailureLog(*dataDir)}, server.Consumers(so)...)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = em.Close(cctx)
	}()
	o.Events, o.Links, o.Stream, o.Log = env.Events(), env.Identities(), em, env.Log
	progress := newProgressPrinter(os.Stderr, "rederive")
	o.Progress, o.ProgressEvery = func(p rederive.Progress) { progress.line(p.Line()) }, progress.every
	res, runErr := rederive.Run(ctx, o)
	progress.finish()
	fmt.Fprintln(os.Stderr, "rederive: "+res.Line())
	if *asJSON {
		if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	if runErr != nil {
		return fmt.Errorf("%w\nrerun the same command: what was derived is not derived twice", runErr)
	}
	return nil
}

func runRedrive(ctx context.Context, args []string) error {
	fs := newFlags("redrive", "redrive [-data DIR] | -aws [-queue URL] [-drop-expired]",
		"Hands the stream records the consumers gave up on back to them, once each: locally\n"+
			"the records in DIR/stream-failures.jsonl; with -aws those named by the messages in the\n"+
			"stream failures queue, read back from the events table's stream (24 hours). Handled\n"+
			"records leave the file or the queue; the others stay for the next run. Safe to run\n"+
			"twice and while traffic flows.")
	dataDir := fs.String("data", ".data", "the data directory holding stream-failures.jsonl (and the dry-run outbox)")
	onAWS := fs.Bool("aws", false, "redrive the deployed stack's stream failures queue instead of the local file")
	queueURL := fs.String("queue", "", "the stream failures queue's URL (default STREAM_FAILURES_QUEUE_URL)")
	dropExpired := fs.Bool("drop-expired", false, "with -aws: delete the messages whose records the stream no longer has, after printing the rederive that replaces them")
	asJSON := fs.Bool("json", false, "also print the result as JSON on stdout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	env, err := operatorEnv(ctx)
	if err != nil {
		return err
	}
	if *onAWS || *queueURL != "" {
		return redriveQueue(ctx, env, *queueURL, *dataDir, *dropExpired, *asJSON)
	}
	res, err := server.Redrive(ctx, server.Options{Config: env.Config, DB: env.DB, Log: env.Log, DataDir: *dataDir})
	fmt.Fprintf(os.Stderr, "redrive: %d records, %d handled and removed, %d failed again, %d skipped (kept in %s)\n",
		res.Records, res.Redriven, res.Failed, res.Skipped, server.FailureLog(*dataDir))
	if *asJSON {
		if jerr := json.NewEncoder(os.Stdout).Encode(res); jerr != nil && err == nil {
			err = fmt.Errorf("write result: %w", jerr)
		}
	}
	if err == nil && res.Failed > 0 {
		err = fmt.Errorf("%d records failed again; they stay in the failure log: run redrive again later", res.Failed)
	}
	return err
}

// redriveQueue empties the deployed stack's stream failures queue through consumers
// running here, as the scheduled redrive function does.
func redriveQueue(ctx context.Context, env app.Env, queueURL, dataDir string, dropExpired, asJSON bool) error {
	if queueURL != "" {
		env.Config.StreamFailuresQueueURL = queueURL
	}
	so := server.Options{Config: env.Config, DB: env.DB, Log: env.Log, DataDir: dataDir}
	if env.Config.Realtime {
		// The deployed consumers push what changes; so do they when run from here.
		sender, err := env.Segment(filepath.Join(dataDir, "segment-outbox.jsonl"))
		if err != nil {
			return err
		}
		so.Segment = sender
	}
	r, err := env.Redriver(ctx, server.Consumers(so))
	if err != nil {
		return err
	}
	r.DropExpired = dropExpired
	res, err := r.Run(ctx)
	fmt.Fprintf(os.Stderr, "redrive: %d messages, %d handled and deleted, %d failed again, %d past the stream's 24 hours, %d skipped\n",
		res.Messages, res.Redriven, res.Failed, res.Expired, res.Skipped)
	for _, cmd := range res.Rederive {
		fmt.Fprintf(os.Stderr, "redrive: the stream no longer has some records; run: %s\n", cmd)
	}
	if asJSON {
		if jerr := json.NewEncoder(os.Stdout).Encode(res); jerr != nil && err == nil {
			err = fmt.Errorf("write result: %w", jerr)
		}
	}
	if err == nil && res.Failed > 0 {
		err = fmt.Errorf("%d messages failed again; they stay in the queue: run redrive again later", res.Failed)
	}
	return err
}
