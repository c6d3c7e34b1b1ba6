package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/attribution-dev/attribution/internal/backfill"
	"github.com/attribution-dev/attribution/internal/event"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runBackfill(ctx context.Context, args []string) error {
	fs := newFlags("backfill", "backfill [flags]", "Sends identify traits (and with -track, Source Identified events) for every user with touches\nin the window, or for each -user.")
	since := fs.String("since", "", "only users with a touch at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := fs.String("until", "", "only users with a touch before this time (RFC 3339 or YYYY-MM-DD)")
	var users stringList
	fs.Var(&users, "user", "limit to this userId (repeatable); no table is read to find users")
	track := fs.Bool("track", false, "also send one Source Identified track per touch in the window")
	dryRun := fs.Bool("dry-run", false, "build every message and send none; print the counts")
	rate := fs.Float64("rate", 500, "at most this many messages per second (0: unlimited)")
	dataDir := fs.String("data", ".data", "where the dry-run outbox goes when SEGMENT_WRITE_KEY is empty")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o := backfill.Options{Users: users, Track: *track, DryRun: *dryRun, Rate: *rate}
	var err error
	if o.Since, o.Until, err = parseWindow(*since, *until); err != nil {
		return err
	}

	env, err := operatorEnv(ctx)
	if err != nil {
		return err
	}
	cfg, log := env.Config, env.Log
	sender, err := env.Segment(filepath.Join(*dataDir, "segment-outbox.jsonl"))
	if err != nil {
		return err
	}
	if sender.DryRun() && !*dryRun {
		log.Warn("SEGMENT_WRITE_KEY is empty: messages go to the outbox file, not to Segment", "outbox", filepath.Join(*dataDir, "segment-outbox.jsonl"))
	}
	o.Event = cfg.SourceIdentifiedEvent
	last := time.Now()
	o.Progress = func(s backfill.Summary) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			log.Info("backfill progress", "users", s.Users, "identifies", s.Identifies, "tracks", s.Tracks, "failed", s.Failed)
		}
	}
	r := &backfill.Runner{
		Touches: env.Touches(),
		People:  env.People(), Links: env.Identities(), Sender: sender, Log: log,
		Suppressed: env.Tombstones().IsErased,
	}
	sum, runErr := r.Run(ctx, o)
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(sum)
	} else {
		verb := "sent"
		if sum.DryRun {
			verb = "would send"
		}
		fmt.Fprintf(os.Stderr, "backfill: users %d, skipped %d, %s %d identify and %d track messages, failed %d, elapsed %s\n",
			sum.Users, sum.Skipped, verb, sum.Identifies, sum.Tracks, sum.Failed, sum.Elapsed.Round(time.Millisecond))
	}
	return runErr
}

// parseWindow reads -since and -until flags with parseDay.
func parseWindow(since, until string) (from, to time.Time, err error) {
	if from, err = parseDay(since); err != nil {
		return from, to, fmt.Errorf("-since: %w", err)
	}
	if to, err = parseDay(until); err != nil {
		return from, to, fmt.Errorf("-until: %w", err)
	}
	return from, to, nil
}

// parseFlags parses args into fs, a command's flags that takes no arguments besides them.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// parseDay reads RFC 3339 or a bare date (midnight UTC).
func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return event.ParseTime(s)
}
