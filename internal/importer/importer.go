// Package importer loads historic Segment archives (JSON Lines, gzipped or not) into the
// events table exactly as POST /events would store them, and derives touches and
// identities from them through the stream consumers.
//
// Every line is validated with the webhook's own parser (event.ParseBody) and stored as
// store.EventItem, so an event imported and also delivered by the webhook is one item,
// and importing a file again stores nothing new. Writes use BatchWriteItem, which cannot
// be conditional; existence is checked first with a consistent BatchGetItem and only the
// missing events are written. Racing the webhook is still safe: both write the same
// bytes for a messageId, and DynamoDB emits no stream record for an unchanged item.
//
// Ordering: each visitor's events reach the stream consumers in file order, after they
// and everything before them in the file are stored. Archives are normally time-ordered;
// when they are not, derivation follows file order, not event time.
package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// ChunkSize is how many events are checked and written together: one BatchGetItem (100
// keys) and up to four BatchWriteItems (25 items) per chunk.
const ChunkSize = store.MaxBatchGet

// DefaultWorkers is how many chunks are stored concurrently.
const DefaultWorkers = 12

// Publisher receives every imported event as the events table's stream would deliver
// it; *stream.Emulator running server.Consumers is one.
type Publisher interface {
	Publish(table string, items ...stream.Item) error
	Idle(ctx context.Context) error
}

// SuppressFunc says, per event, whether it belongs to an erased person and must not be
// stored. It is asked once per chunk, so one lookup serves many events
// (store.Tombstones.EventsErased is one).
type SuppressFunc func(ctx context.Context, evs []event.Event) ([]bool, error)

// Options configure an import. Zero values are sensible defaults, except Events.
type Options struct {
	Events *store.Events
	// Derive, when set, gets every valid event (stored now or before) once it is stored,
	// so touches and identities are derived even for events a previous, interrupted
	// import stored. Nil: no derivation (in AWS the table's stream does it).
	Derive Publisher
	// Suppressed, when set, is asked about every valid event; suppressed ones are
	// neither stored nor derived, and are counted.
	Suppressed SuppressFunc
	// Blocked are the ids that never identify anyone (nil: the built-in list), applied
	// as the webhook applies them.
	Blocked *event.Blocklist
	// Rejects receives one JSON line per rejected line or event (see Reject).
	Rejects io.Writer
	Workers int
	Backoff store.Backoff
	// Progress, when set, is called every ProgressEvery (default 1s) with the counts so far.
	Progress      func(Progress)
	ProgressEvery time.Duration
	Log           *slog.Logger
	Now           func() time.Time
}

// Summary is what an import did.
type Summary struct {
	Files      int   `json:"files"`
	Lines      int64 `json:"lines"`
	Read       int64 `json:"read"` // events read, valid or not
	Stored     int64 `json:"stored"`
	Duplicates int64 `json:"duplicates"`
	Suppressed int64 `json:"suppressed"`
	Rejected   int64 `json:"rejected"`
	Bytes      int64 `json:"bytes"`
	// BytesTotal is the sum of the archives' sizes, 0 when one is unknown (stdin).
	BytesTotal      int64         `json:"bytesTotal,omitempty"`
	Elapsed         time.Duration `json:"-"`
	ElapsedSeconds  float64       `json:"elapsedSeconds"`
	EventsPerSecond float64       `json:"eventsPerSecond"`
}

// Text is the one-line human summary; it always contains "rejected N".
func (s Summary) Text() string {
	return fmt.Sprintf("read %d events from %d lines in %d file(s): stored %d, duplicates %d, suppressed %d, rejected %d; %s, %.0f events/s",
		s.Read, s.Lines, s.Files, s.Stored, s.Duplicates, s.Suppressed, s.Rejected, s.Elapsed.Round(time.Millisecond), s.EventsPerSecond)
}

// Reject is one line of the rejects file.
type Reject struct {
	File  string `json:"file"`
	Line  int64  `json:"line"`
	Index *int   `json:"index"` // position in a batch line; null for a single-event line
	Error string `json:"error"`
	Raw   string `json:"raw"` // the line, truncated to MaxRejectRaw bytes
}

// MaxRejectRaw bounds the copy of a rejected line in the rejects file.
const MaxRejectRaw = 2048

// ErrStore means events that were read could not be stored; the import is incomplete
// and can be rerun.
var ErrStore = errors.New("could not store events")

type record struct {
	ev   event.Event
	item map[string]types.AttributeValue
	dup  bool // an earlier line of the archive has the same messageId
}

type chunk struct {
	seq     int64
	recs    []record
	publish []int // records to hand to Derive, in file order
	err     error
}

type run struct {
	o        Options
	ctx      context.Context
	fail     context.CancelCauseFunc
	start    time.Time
	counts   struct{ lines, read, stored, dups, suppressed, rejected, bytes atomic.Int64 }
	total    int64
	files    int
	work     chan *chunk
	done     chan *chunk
	slots    chan struct{}
	seq      int64
	pending  []record
	inflight struct {
		sync.Mutex
		ids map[string]struct{}
	}
	rejectMu sync.Mutex
}

// Run imports sources in order. It returns the summary even on error: the counts of what
// was done before the failure or cancellation. Rerunning an interrupted import ends in
// the same state as one uninterrupted run.
func Run(ctx context.Context, o Options, sources []Source) (Summary, error) {
	if o.Events == nil {
		return Summary{}, errors.New("import: no events table")
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &run{o: o, start: o.Now(), files: len(sources)}
	r.inflight.ids = make(map[string]struct{})
	for _, s := range sources {
		if s.Size < 0 {
			r.total = 0
			break
		}
		r.total += s.Size
	}
	var cancel context.CancelCauseFunc
	r.ctx, cancel = context.WithCancelCause(ctx)
	defer cancel(nil)
	r.fail = cancel

	// A chunk holds a slot from dispatch until it is published, which bounds both the
	// writes in flight and the chunks waiting to be published in file order.
	r.work = make(chan *chunk)
	r.done = make(chan *chunk, o.Workers)
	r.slots = make(chan struct{}, 8*o.Workers)

	var workers, sequencer sync.WaitGroup
	for range o.Workers {
		workers.Go(r.worker)
	}
	sequencer.Go(r.sequence)
	stopProgress := r.reportProgress()

	var readErrs []error
	for _, src := range sources {
		if err := r.readSource(src); err != nil {
			if r.ctx.Err() != nil {
				break
			}
			// An unreadable file (say, a truncated gzip) does not stop the others; the
			// import still fails at the end, since it could not handle all it was given.
			o.Log.Error("archive not fully read", "file", src.Name, "err", err)
			readErrs = append(readErrs, err)
		}
	}
	if r.ctx.Err() == nil {
		r.dispatch()
	}
	close(r.work)
	workers.Wait()
	close(r.done)
	sequencer.Wait()

	err := context.Cause(r.ctx)
	if ctx.Err() != nil {
		err = fmt.Errorf("import interrupted: %w", ctx.Err())
	}
	if err == nil && o.Derive != nil {
		// The summary is only true once what was published has been derived.
		if ierr := o.Derive.Idle(ctx); ierr != nil {
			err = fmt.Errorf("derive touches and identities: %w", ierr)
		}
	}
	if err == nil && len(readErrs) > 0 {
		err = fmt.Errorf("read archives: %w", errors.Join(readErrs...))
	}
	stopProgress()
	return r.summary(), err
}

func (r *run) summary() Summary {
	s := Summary{
		Files:      r.files,
		Lines:      r.counts.lines.Load(),
		Read:       r.counts.read.Load(),
		Stored:     r.counts.stored.Load(),
		Duplicates: r.counts.dups.Load(),
		Suppressed: r.counts.suppressed.Load(),
		Rejected:   r.counts.rejected.Load(),
		Bytes:      r.counts.bytes.Load(),
		BytesTotal: r.total,
		Elapsed:    r.o.Now().Sub(r.start),
	}
	s.ElapsedSeconds = s.Elapsed.Seconds()
	if s.ElapsedSeconds > 0 {
		s.EventsPerSecond = float64(s.Read) / s.ElapsedSeconds
	}
	return s
}

func (r *run) readSource(src Source) error {
	l, err := openLines(src, &r.counts.bytes)
	if err != nil {
		return err
	}
	defer l.Close()
	for lineNo := int64(1); ; lineNo++ {
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		line, tooLong, err := l.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s line %d: %w", src.Name, lineNo, err)
		}
		r.counts.lines.Add(1)
		if err := r.handleLine(src.Name, lineNo, line, tooLong); err != nil {
			return err
		}
	}
}

func (r *run) handleLine(file string, lineNo int64, line []byte, tooLong bool) error {
	if tooLong {
		r.counts.read.Add(1)
		return r.reject(file, lineNo, nil, fmt.Sprintf("line is longer than %d bytes", MaxLine), nil)
	}
	// Segment posts bodies without the archive's line ending; trimming it keeps Raw,
	// and so the stored item, byte-identical to what the webhook stores.
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	body, err := r.o.Blocked.ParseBody(line)
	if err != nil {
		r.counts.read.Add(1)
		return r.reject(file, lineNo, nil, err.Error(), line)
	}
	for _, it := range body.Items {
		r.counts.read.Add(1)
		var index *int
		if body.Batch {
			index = &it.Index
		}
		if it.Err != nil {
			if err := r.reject(file, lineNo, index, it.Err.Error(), line); err != nil {
				return err
			}
			continue
		}
		item := store.EventItem(it.Event, r.o.Events.Retention)
		if err := store.CheckItemSize(it.Event.MessageID, item); err != nil {
			if err := r.reject(file, lineNo, index, err.Error(), line); err != nil {
				return err
			}
			continue
		}
		r.pending = append(r.pending, record{ev: it.Event, item: item})
		if len(r.pending) == ChunkSize {
			r.dispatch()
		}
	}
	return nil
}

// dispatch hands the pending events to the workers as one chunk, marking as duplicates
// those whose messageId is already on its way to the table: a consistent read cannot see
// a write that has not happened yet, and BatchWriteItem refuses the same key twice.
func (r *run) dispatch() {
	if len(r.pending) == 0 {
		return
	}
	select {
	case r.slots <- struct{}{}:
	case <-r.ctx.Done():
		return
	}
	c := &chunk{seq: r.seq, recs: r.pending}
	r.seq++
	r.pending = make([]record, 0, ChunkSize)
	r.inflight.Lock()
	for i := range c.recs {
		id := c.recs[i].ev.MessageID
		if _, ok := r.inflight.ids[id]; ok {
			c.recs[i].dup = true
			continue
		}
		r.inflight.ids[id] = struct{}{}
	}
	r.inflight.Unlock()
	select {
	case r.work <- c:
	case <-r.ctx.Done():
		<-r.slots
	}
}

func (r *run) worker() {
	for c := range r.work {
		c.err = r.store(c)
		if c.err != nil {
			r.fail(c.err)
		}
		// Stored or failed, these ids are no longer in flight: a later duplicate is found
		// by the consistent read (or the import is failing anyway).
		r.inflight.Lock()
		for _, rec := range c.recs {
			if !rec.dup {
				delete(r.inflight.ids, rec.ev.MessageID)
			}
		}
		r.inflight.Unlock()
		r.done <- c
	}
}

func (r *run) store(c *chunk) error {
	ctx := r.ctx
	var candidates []int
	var dups, suppressed int64
	erased, err := r.suppressed(ctx, c)
	if err != nil {
		return err
	}
	for i, rec := range c.recs {
		switch {
		case rec.dup:
			dups++
		case erased[i]:
			suppressed++
		default:
			candidates = append(candidates, i)
		}
	}
	ids := make([]string, len(candidates))
	for k, i := range candidates {
		ids[k] = c.recs[i].ev.MessageID
	}
	existing, err := r.o.Events.Existing(ctx, ids, r.o.Backoff)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	items := make([]map[string]types.AttributeValue, 0, len(candidates))
	for _, i := range candidates {
		if existing[c.recs[i].ev.MessageID] {
			dups++
		} else {
			items = append(items, c.recs[i].item)
		}
		c.publish = append(c.publish, i)
	}
	// Count what is known written even when the rest fails, so an interrupted import's
	// summary is as true as it can be; requests abandoned mid-flight may still land,
	// and a rerun counts those as duplicates.
	written, err := r.o.Events.PutItems(ctx, items, r.o.Backoff)
	r.counts.stored.Add(int64(written))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStore, err)
	}
	r.counts.dups.Add(dups)
	r.counts.suppressed.Add(suppressed)
	return nil
}

// suppressed asks the erasure check about every event of the chunk at once.
func (r *run) suppressed(ctx context.Context, c *chunk) ([]bool, error) {
	if r.o.Suppressed == nil {
		return make([]bool, len(c.recs)), nil
	}
	evs := make([]event.Event, len(c.recs))
	for i, rec := range c.recs {
		evs[i] = rec.ev
	}
	erased, err := r.o.Suppressed(ctx, evs)
	if err != nil {
		return nil, fmt.Errorf("%w: check suppression of %d events: %w", ErrStore, len(evs), err)
	}
	if len(erased) != len(evs) {
		return nil, fmt.Errorf("check suppression: %d answers for %d events", len(erased), len(evs))
	}
	return erased, nil
}

// sequence publishes stored chunks in file order, so that a visitor's events reach the
// consumers in order and only after everything before them in the file is stored (the
// consumers read earlier page views back from the table). It stops publishing at the
// first failed chunk: what follows is derived when the import is rerun.
func (r *run) sequence() {
	var next int64
	waiting := make(map[int64]*chunk)
	failed := false
	for c := range r.done {
		waiting[c.seq] = c
		for {
			c, ok := waiting[next]
			if !ok {
				break
			}
			delete(waiting, next)
			next++
			if c.err != nil {
				failed = true
			}
			if !failed && r.o.Derive != nil && len(c.publish) > 0 {
				items := make([]stream.Item, len(c.publish))
				for j, i := range c.publish {
					items[j] = stream.Item{Key: stream.Key(c.recs[i].ev), Item: c.recs[i].item}
				}
				// One call per chunk: the stream's log is fsynced once for all of it.
				if err := r.o.Derive.Publish(r.o.Events.Table(), items...); err != nil {
					failed = true
					r.fail(fmt.Errorf("derive: %w", err))
				}
			}
			<-r.slots
		}
	}
}

func (r *run) reject(file string, lineNo int64, index *int, reason string, raw []byte) error {
	r.counts.rejected.Add(1)
	if r.o.Rejects == nil {
		return nil
	}
	if len(raw) > MaxRejectRaw {
		raw = raw[:MaxRejectRaw]
	}
	line, err := json.Marshal(Reject{File: file, Line: lineNo, Index: index, Error: reason, Raw: strings.ToValidUTF8(string(raw), "\uFFFD")})
	if err != nil {
		return fmt.Errorf("encode reject of %s line %d: %w", file, lineNo, err)
	}
	r.rejectMu.Lock()
	defer r.rejectMu.Unlock()
	if _, err := r.o.Rejects.Write(append(line, '\n')); err != nil {
		// A reject that cannot be recorded is a line not handled: stop rather than lose it.
		err = fmt.Errorf("write rejects file: %w", err)
		r.fail(err)
		return err
	}
	return nil
}

func (r *run) reportProgress() (stop func()) {
	if r.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.o.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.o.Progress(Progress{Summary: r.summary()})
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
