// Command attribution is the operator's tool: it serves the whole stack locally,
// creates tables, detects sources, imports archives, backfills attribution, repairs what
// the stream consumers derive and credits channels over path files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/attribution-dev/attribution/internal/app"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/logging"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run every route and stream consumer locally on http://127.0.0.1:3000", runServe},
		{"tables", "create the tables (idempotent) on the configured DynamoDB endpoint", runTables},
		{"detect", "describe visits: JSON Lines {\"url\",\"referrer\"} on stdin, descriptions on stdout", runDetect},
		{"import", "import Segment archives (JSON Lines, gzip or not; - is stdin) as POST /events stores them", runImport},
		{"backfill", "send identify traits (and with -track, Source Identified events) for many users", runBackfill},
		{"report", "print a conversions report (-event -from -to -model M|all -by -format table|csv|json)", runReport},
		{"forget", "erase a person (--user ID or --anonymous ID) and suppress their later events", runForget},
		{"rederive", "run stored events through the stream consumers again (repairs lost touches and links)", runRederive},
		{"redrive", "hand the stream records the consumers gave up on back to them", runRedrive},
		{"model", "credit channels over a ChannelAttribution path file: first, last, linear, markov, shapley", runModel},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// run is the whole command line; it returns the exit status.
func run(ctx context.Context, args []string) int {
	if len(args) < 1 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			err := c.run(ctx, args[1:])
			switch {
			case errors.Is(err, flag.ErrHelp): // -h: the flag set has printed the usage
				return 0
			case err != nil:
				fmt.Fprintf(os.Stderr, "attribution %s: %v\n", c.name, err)
				return 1
			}
			return 0
		}
	}
	fmt.Fprintf(os.Stderr, "attribution: unknown command %q\n\n", args[0])
	usage()
	return 2
}

// newFlags is a subcommand's flag set, whose -h prints "usage: attribution SYNOPSIS",
// what the command does and its flags.
func newFlags(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: attribution %s\n\n%s\n\n", synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: attribution <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nrun `attribution <command> -h` for a command's flags")
}

// operatorEnv loads the configuration and connects to DynamoDB, logging as text.
func operatorEnv(ctx context.Context) (app.Env, error) {
	cfg, err := config.Load()
	if err != nil {
		return app.Env{}, err
	}
	return app.Connect(ctx, cfg, logging.New(os.Stderr, false))
}
