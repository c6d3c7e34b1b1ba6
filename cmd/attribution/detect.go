package main

import (
	"context"
	"flag"
	"os"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/source"
)

// runDetect is the JSON Lines filter: {"url","referrer"} in, one description per line out.
func runDetect(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.Usage = func() {
		fs.Output().Write([]byte("usage: attribution detect < visits.jsonl > descriptions.jsonl\n\n" +
			"Reads {\"url\": ..., \"referrer\": ...} per line and writes one description (or {\"error\": ...}) per line, in order.\n" +
			"INTERNAL_DOMAINS, IGNORED_REFERRERS and REFERERS_FILE apply.\n"))
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	return source.Filter(ctx, os.Stdin, os.Stdout, app.Detector(cfg))
}
