package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/attribution-dev/attribution/internal/erase"
	"github.com/attribution-dev/attribution/internal/event"
)

// runForget erases a person, as DELETE /api/user/{id} or /api/anonymous/{id} does, with
// no API Gateway time limit: the CLI is the way to erase someone with a very long history.
func runForget(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("forget", flag.ContinueOnError)
	user := fs.String("user", "", "userId to erase, with every anonymous id linked to it alone")
	anonymous := fs.String("anonymous", "", "anonymousId to erase")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: attribution forget --user ID | --anonymous ID\n\n"+
			"Removes the person's events, touches and identity links, and keeps a hashed tombstone so\n"+
			"later events for them are dropped. Idempotent: run it again to finish an interrupted erasure.\n"+
			"Prints {\"userId\"|\"anonymousId\", \"removed\": {...}, \"anonymousIds\": [...]} as JSON.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (use --user ID or --anonymous ID)", fs.Arg(0))
	}
	env, err := operatorEnv(ctx)
	if err != nil {
		return err
	}
	return forget(ctx, env.Eraser(), *user, *anonymous, os.Stdout)
}

// forget erases exactly one of user and anonymous and writes the result as JSON to w.
func forget(ctx context.Context, e *erase.Eraser, user, anonymous string, w io.Writer) error {
	if (user == "") == (anonymous == "") {
		return errors.New("give exactly one of --user ID and --anonymous ID")
	}
	id, run := user, e.User
	if anonymous != "" {
		id, run = anonymous, e.Anonymous
	}
	if msg := event.CheckID(id); msg != "" {
		return errors.New(msg)
	}
	res, err := run(ctx, id)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
