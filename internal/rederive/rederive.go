// Package rederive runs stored events through the stream consumers again, as if the
// events table's stream delivered them once more: the repair for anything derived
// (touches, links, pushes) that was lost. The consumers are idempotent, so where
// nothing was missing nothing changes.
package rederive

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// Publisher delivers records to the consumers (*stream.Emulator running
// server.Consumers is one).
type Publisher interface {
	Publish(table string, items ...stream.Item) error
	Idle(ctx context.Context) error
}

// Links finds a user's anonymous ids (store.Identities does).
type Links interface {
	ByUser(ctx context.Context, userID string) ([]store.Link, error)
}

// Options say which events to run again. With no Users and no Anonymous, every event
// in the window is: the table is scanned once for its visitors' ids.
type Options struct {
	Events *store.Events
	Links  Links
	Stream Publisher
	// Since and Until bound the events' own times: [Since, Until); zero is open.
	Since, Until time.Time
	// Users are people: the events carrying each userId and those of every anonymous
	// id linked to it. Anonymous are single visitors.
	Users, Anonymous []string
	Workers          int // visitors read at once (default 8)
	Segments         int // parallel Scan segments (default 4)
	// Progress, when set, is called every ProgressEvery (default 1s) until the end; Run
	// returns the final count.
	Progress      func(Progress)
	ProgressEvery time.Duration
	Log           *slog.Logger
}

// Progress is how far a run is.
type Progress struct {
	Visitors     int   `json:"visitors"`     // to read
	VisitorsDone int   `json:"visitorsDone"` // read and published
	Events       int64 `json:"events"`       // published
	Derived      bool  `json:"derived"`      // the consumers have handled everything published
}

// Line is the progress as one line of text.
func (p Progress) Line() string {
	line := fmt.Sprintf("visitors %d/%d, events %d published", p.VisitorsDone, p.Visitors, p.Events)
	if p.Derived {
		line += ", all derived"
	}
	return line
}

// job is one visitor's worth of events: the sources to read and which of their events
// belong to it.
type job struct {
	sources []store.EventSource
	keep    func(event.Event) bool
}

// Run publishes the chosen events, each visitor's in time order, and waits until the
// consumers have handled them.
func Run(ctx context.Context, o Options) (Progress, error) {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Segments <= 0 {
		o.Segments = 4
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	jobs, err := o.jobs(ctx)
	if err != nil {
		return Progress{}, err
	}
	var done, published atomic.Int64
	progress := func(derived bool) Progress {
		return Progress{Visitors: len(jobs), VisitorsDone: int(done.Load()), Events: published.Load(), Derived: derived}
	}
	stop := o.report(func() Progress { return progress(false) })
	defer stop()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Workers)
	for _, j := range jobs {
		g.Go(func() error {
			n, err := o.publish(gctx, j)
			published.Add(n)
			done.Add(1)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return progress(false), err
	}
	if err := o.Stream.Idle(ctx); err != nil {
		return progress(false), err
	}
	stop()
	return progress(true), nil
}

// report calls Progress every ProgressEvery until the returned stop is called.
func (o Options) report(now func() Progress) (stop func()) {
	if o.Progress == nil {
		return func() {}
	}
	quit := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(o.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				o.Progress(now())
			}
		}
	})
	return func() { once.Do(func() { close(quit); wg.Wait() }) }
}

// jobs lists the visitors to read. A stream key is an event's anonymousId, or its
// userId when it has none (stream.Key), and events reach the consumers in order per
// key, so each job reads what one key (or, for a person, a few) holds.
func (o Options) jobs(ctx context.Context) ([]job, error) {
	var jobs []job
	for _, u := range o.Users {
		links, err := o.Links.ByUser(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("anonymous ids of %s: %w", u, err)
		}
		srcs := []store.EventSource{{ByUser: true, ID: u}}
		for _, l := range links {
			srcs = append(srcs, store.EventSource{ID: l.AnonymousID})
		}
		jobs = append(jobs, job{sources: srcs})
	}
	for _, a := range o.Anonymous {
		jobs = append(jobs, job{sources: []store.EventSource{{ID: a}}})
	}
	if len(o.Users) > 0 || len(o.Anonymous) > 0 {
		return jobs, nil
	}
	var mu sync.Mutex
	anons, users := map[string]bool{}, map[string]bool{}
	err := o.Events.ScanIDs(ctx, o.Segments, o.Since, o.Until, func(anonymousID, userID string) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case anonymousID != "":
			anons[anonymousID] = true
		case userID != "":
			users[userID] = true
		}
	})
	if err != nil {
		return nil, err
	}
	for _, a := range slices.Sorted(maps.Keys(anons)) {
		jobs = append(jobs, job{sources: []store.EventSource{{ID: a}}})
	}
	// A userId's own key holds only its events without an anonymousId; the others are
	// their anonymous ids' jobs.
	noAnonymous := func(ev event.Event) bool { return ev.AnonymousID == "" }
	for _, u := range slices.Sorted(maps.Keys(users)) {
		jobs = append(jobs, job{sources: []store.EventSource{{ByUser: true, ID: u}}, keep: noAnonymous})
	}
	return jobs, nil
}

// publish reads a job's events, drops repeats (an event with both ids is in two
// sources), and publishes each stream key's events oldest first.
func (o Options) publish(ctx context.Context, j job) (int64, error) {
	type read struct {
		ev   event.Event
		item map[string]types.AttributeValue
	}
	seen := map[string]bool{}
	byKey := map[string][]read{}
	var keys []string
	for _, src := range j.sources {
		err := o.Events.Oldest(ctx, src, o.Since, o.Until, func(item map[string]types.AttributeValue) error {
			ev, err := store.EventFromItem(item)
			if err != nil {
				o.Log.WarnContext(ctx, "skip unreadable stored event", "source", src.ID, "err", err)
				return nil
			}
			if seen[ev.MessageID] || (j.keep != nil && !j.keep(ev)) {
				return nil
			}
			seen[ev.MessageID] = true
			k := stream.Key(ev)
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], read{ev: ev, item: item})
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	var n int64
	for _, k := range keys {
		reads := byKey[k]
		slices.SortStableFunc(reads, func(a, b read) int {
			return cmp.Or(a.ev.Timestamp.Compare(b.ev.Timestamp), cmp.Compare(a.ev.MessageID, b.ev.MessageID))
		})
		items := make([]stream.Item, len(reads))
		for i, r := range reads {
			items[i] = stream.Item{Key: k, Item: r.item}
		}
		if err := o.Stream.Publish(o.Events.Table(), items...); err != nil {
			return n, fmt.Errorf("publish events of %s: %w", k, err)
		}
		n += int64(len(items))
	}
	return n, nil
}
