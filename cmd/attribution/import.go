package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/importer"
	"github.com/attribution-dev/attribution/internal/logging"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

func runImport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: attribution import [flags] FILE...   (FILE - is stdin; gzip is detected by content)")
		fmt.Fprintln(fs.Output(), "\nStores each event as POST /events would; rerunning an import stores nothing twice.")
		fmt.Fprintln(fs.Output(), "Touches and identities are derived per visitor in file order: archives are normally")
		fmt.Fprint(fs.Output(), "time-ordered; if yours are not, import them in time order.\n\n")
		fs.PrintDefaults()
	}
	dataDir := fs.String("data", ".data", "directory for the default rejects file, the stream failure log and the import's stream log (import-stream/)")
	rejectsPath := fs.String("rejects", "", "where rejected lines go, one JSON object per line (default DATA/import-rejects-<timestamp>.jsonl)")
	noDerive := fs.Bool("no-derive", false, "store events only; derive no touches or identities (in AWS the table's stream does it)")
	asJSON := fs.Bool("json", false, "also print the summary as JSON on stdout")
	workers := fs.Int("workers", importer.DefaultWorkers, "chunks of 100 events stored concurrently")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no archive given (use - for stdin)")
	}
	log := logging.New(os.Stderr, false)
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	// Historic events must not push "changed attribution" to Segment one touch at a time:
	// the import derives; `attribution backfill` sends. (server.Consumers without a
	// Segment client wires no push either; this keeps it so if that ever changes.)
	cfg.Realtime = false

	var sources []importer.Source
	for _, path := range fs.Args() {
		src, err := importer.File(path)
		if err != nil {
			return err
		}
		sources = append(sources, src)
	}
	rejects := &lazyFile{path: *rejectsPath}
	if *rejectsPath == "" {
		rejects = &lazyFile{path: filepath.Join(*dataDir, "import-rejects-"+time.Now().UTC().Format("20060102T150405Z")+".jsonl"), fresh: true}
	}
	defer rejects.Close()

	db, err := store.NewClient(ctx, store.ClientOptions{Region: cfg.Region, Endpoint: cfg.DynamoDBEndpoint, MaxConns: 4 * max(*workers, 1)})
	if err != nil {
		return err
	}
	evs := store.NewEvents(db, cfg.EventsTable)
	evs.Retention = cfg.EventRetention()

	// Erased people stay erased: their events in an archive are counted, never stored.
	opts := importer.Options{Events: evs, Rejects: rejects, Workers: *workers, Log: log, Blocked: cfg.BlockedIDs,
		Suppressed: store.NewTombstones(db, cfg.IdentitiesTable).EventsErased}
	if !*noDerive {
		// The same consumers `serve` runs, behind the same emulated stream: one
		// implementation of detection and identity linking.
		// Its own stream directory, so an import can run beside `serve`; records left
		// by an interrupted import are derived when the next import starts.
		em, err := stream.NewEmulator(log, stream.EmulatorOptions{
			Shards:     16,
			FailureLog: server.FailureLog(*dataDir),
			Dir:        filepath.Join(*dataDir, "import-stream"),
		}, server.Consumers(server.Options{Config: cfg, DB: db, Log: log, DataDir: *dataDir})...)
		if err != nil {
			return err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := em.Close(cctx); err != nil {
				log.Error("stream records left at exit; the next import (even of an empty file) derives them", "err", err)
			}
		}()
		opts.Derive = em
	}
	progress := newProgressPrinter(os.Stderr, "import")
	opts.Progress, opts.ProgressEvery = progress.print, progress.every

	sum, runErr := importer.Run(ctx, opts, sources)
	progress.finish()
	fmt.Fprintln(os.Stderr, "import: "+sum.Text())
	if sum.Rejected > 0 {
		fmt.Fprintf(os.Stderr, "import: rejected lines written to %s\n", rejects.path)
	}
	if *asJSON {
		out := struct {
			importer.Summary
			RejectsFile string `json:"rejectsFile,omitempty"`
			Error       string `json:"error,omitempty"`
		}{Summary: sum}
		if sum.Rejected > 0 {
			out.RejectsFile = rejects.path
		}
		if runErr != nil {
			out.Error = runErr.Error()
		}
		if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
	}
	if err := rejects.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		if errors.Is(runErr, importer.ErrStore) {
			return fmt.Errorf("%w\nnothing is lost: rerun the same import once DynamoDB is reachable; stored events count as duplicates", runErr)
		}
		return runErr
	}
	return nil
}

// progressPrinter redraws one line on a terminal and logs a plain line every few
// seconds otherwise, so CI logs and redirected output stay readable.
type progressPrinter struct {
	w       io.Writer
	command string
	tty     bool
	every   time.Duration
	lastLen int
}

func newProgressPrinter(f *os.File, command string) *progressPrinter {
	p := &progressPrinter{w: f, command: command, every: 5 * time.Second}
	if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		p.tty, p.every = true, 250*time.Millisecond
	}
	return p
}

func (p *progressPrinter) print(pr importer.Progress) { p.line(pr.Line()) }

func (p *progressPrinter) line(line string) {
	if !p.tty {
		fmt.Fprintln(p.w, p.command+": "+line)
		return
	}
	pad := max(0, p.lastLen-len(line))
	fmt.Fprint(p.w, "\r"+line+strings.Repeat(" ", pad))
	p.lastLen = len(line)
}

func (p *progressPrinter) finish() {
	if p.tty && p.lastLen > 0 {
		fmt.Fprintln(p.w)
	}
}

// lazyFile creates the rejects file on the first reject, so clean imports leave none.
// A path the operator chose is appended to; a default one (fresh) is never reused, so
// each run's rejects stay apart even when two runs start in the same second.
type lazyFile struct {
	path  string
	fresh bool
	mu    sync.Mutex
	f     *os.File
}

func (l *lazyFile) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
			return 0, fmt.Errorf("create rejects directory: %w", err)
		}
		f, err := l.open()
		if err != nil {
			return 0, fmt.Errorf("open rejects file: %w", err)
		}
		l.f = f
	}
	return l.f.Write(b)
}

func (l *lazyFile) open() (*os.File, error) {
	if !l.fresh {
		return os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	}
	base := strings.TrimSuffix(l.path, ".jsonl")
	for n := 1; ; n++ {
		path := base + ".jsonl"
		if n > 1 {
			path = fmt.Sprintf("%s-%d.jsonl", base, n)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if errors.Is(err, fs.ErrExist) && n < 1000 {
			continue
		}
		if err == nil {
			l.path = path
		}
		return f, err
	}
}

func (l *lazyFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close rejects file: %w", err)
	}
	return nil
}
