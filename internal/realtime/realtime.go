// Package realtime pushes a user's attribution to Segment as it changes (REALTIME): the
// stream consumers store a batch's touches and identity links, then hand the affected
// userIds to Pusher.Push, which recomputes each user's identify message exactly as the
// trigger route builds it (attribution.Identify) and sends it when it differs from the last
// one Segment acknowledged.
//
// "Differs" is decided by messageId: attribution.IdentifyMessageID hashes the userId and
// the traits, so equal ids mean equal traits. The last acknowledged id is kept per user
// in store.PushStates (an item in the identities table under a reserved sort key),
// written only after Segment acknowledged the send, with a conditional write that never
// moves it backwards. A redelivered record thus finds the state equal and sends nothing;
// were it to send, Segment would drop the repeated messageId anyway.
//
// The last identify Segment receives for a user must carry the current traits, even
// when Segment answers 429 or 5xx and the client retries a send for seconds. Within a
// process, pushes for one user are serialised (Pusher holds a lock per user from
// recomputing the traits to recording the state), so a push that waits behind a retried
// one recomputes when its turn comes and lands after it. Across processes (two Lambda
// shards, or the detect and identify functions) the state's conditional write tells: a
// push whose acknowledged traits turn out older than the stored state may have landed
// after the newer ones, so it sends the current traits again under a superseding
// messageId (Segment would drop a repeated one). What is left: the newer push's state
// write racing the older push's landing within the few milliseconds between the newer
// acknowledgement and its state write.
package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
	"golang.org/x/sync/errgroup"
)

// People finds a user's touches over every linked id, oldest first (people.Resolver does).
type People interface {
	UserTouches(ctx context.Context, userID string) ([]attribution.Touch, error)
}

// Links finds the users an anonymous id identified as (store.Identities does).
type Links interface {
	ByAnonymous(ctx context.Context, anonymousID string) ([]store.Link, error)
}

// States keeps the last identify Segment acknowledged per user (store.PushStates does).
type States interface {
	Get(ctx context.Context, userID string) (store.PushState, error)
	Put(ctx context.Context, st store.PushState) (bool, error)
}

var (
	_ People = (*people.Resolver)(nil)
	_ Links  = (*store.Identities)(nil)
	_ States = (*store.PushStates)(nil)
)

// DefaultConcurrency bounds the users resolved at once in one Push.
const DefaultConcurrency = 8

// Pusher recomputes users' attribution and sends it to Segment when it changed.
type Pusher struct {
	People People
	Links  Links
	Sender segment.Sender
	State  States
	Log    *slog.Logger
	// Suppressed, when set, is asked before anything is sent for a user; true means the
	// user asked to be forgotten (erasure) and nothing is sent.
	Suppressed func(ctx context.Context, userID string) (bool, error)
	// Now stamps the state's sentAt (time.Now when nil).
	Now func() time.Time
	// Concurrency bounds the users resolved at once (DefaultConcurrency when 0).
	Concurrency int

	locks userLocks
}

// userLocks serialises pushes per user within a process.
type userLocks struct {
	mu    sync.Mutex
	locks map[string]*userLock
}

type userLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes the lock of every user, in sorted order so that two pushes sharing users
// cannot deadlock, and returns the function that releases them.
func (l *userLocks) lock(users []string) (unlock func()) {
	sorted := slices.Sorted(slices.Values(users))
	held := make([]*userLock, 0, len(sorted))
	for _, u := range sorted {
		l.mu.Lock()
		if l.locks == nil {
			l.locks = map[string]*userLock{}
		}
		ul := l.locks[u]
		if ul == nil {
			ul = &userLock{}
			l.locks[u] = ul
		}
		ul.refs++
		l.mu.Unlock()
		ul.mu.Lock()
		held = append(held, ul)
	}
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, ul := range held {
			ul.mu.Unlock()
			if ul.refs--; ul.refs == 0 {
				delete(l.locks, sorted[i])
			}
		}
	}
}

// Outcome is what a push did for one user.
type Outcome string

// Outcomes of a push.
const (
	Sent       Outcome = "sent"       // a changed identify was acknowledged by Segment
	Unchanged  Outcome = "unchanged"  // the traits equal the last ones sent
	NoTouches  Outcome = "no_touches" // nothing to attribute yet
	Suppressed Outcome = "suppressed" // the Suppressed hook said no
	Failed     Outcome = "failed"     // see Result.Err; pushing again is safe
)

// Result is what happened for one user.
type Result struct {
	UserID  string
	Outcome Outcome
	// MessageID is the identify's messageId, when one was built.
	MessageID string
	// DryRun is true when the client wrote the message to its outbox instead of sending.
	DryRun bool
	Err    error
}

// Linked lists the users anonymousID is linked to (none for "").
func (p *Pusher) Linked(ctx context.Context, anonymousID string) ([]string, error) {
	if anonymousID == "" {
		return nil, nil
	}
	links, err := p.Links.ByAnonymous(ctx, anonymousID)
	if err != nil {
		return nil, fmt.Errorf("users linked to %s: %w", anonymousID, err)
	}
	users := make([]string, 0, len(links))
	for _, l := range links {
		users = append(users, l.UserID)
	}
	return users, nil
}

// WithUser is userID (when not empty) followed by the other users.
func WithUser(userID string, users []string) []string {
	if userID == "" {
		return users
	}
	out := []string{userID}
	for _, u := range users {
		if u != userID {
			out = append(out, u)
		}
	}
	return out
}

// Failures is Push reduced to the users it failed for, the shape a stream consumer's
// follow-up reports (stream.FollowUpFunc).
func (p *Pusher) Failures(ctx context.Context, userIDs []string, fresh map[string][]attribution.Touch) map[string]error {
	failed := map[string]error{}
	for _, r := range p.Push(ctx, userIDs, fresh) {
		if r.Err != nil {
			failed[r.UserID] = r.Err
		}
	}
	return failed
}

// PersonFollowUp is Failures as a stream follow-up over person keys
// (conversion person keys), the keys the consumers share with conversions: it pushes the
// users among them and ignores anonymous visitors, whose users the caller lists.
func (p *Pusher) PersonFollowUp(fresh map[string][]attribution.Touch) stream.FollowUpFunc {
	return func(ctx context.Context, keys []string) map[string]error {
		var users []string
		for _, k := range keys {
			if u, _, ok := conversion.ParsePersonKey(k); ok && u != "" {
				users = append(users, u)
			}
		}
		failed := map[string]error{}
		for u, err := range p.Failures(ctx, users, fresh) {
			failed[conversion.UserKey(u)] = err
		}
		return failed
	}
}

// Push recomputes each user's identify message and sends the ones that changed, all in
// one Send (the client packs them into as few requests as the limits allow), then
// records what Segment acknowledged. It returns one Result per distinct user, in order.
//
// fresh holds touches the caller has just stored, per user: the resolver's reads are
// eventually consistent (and the touches-by-user index always is), so they are merged
// in, by messageId, rather than trusted to be read back.
func (p *Pusher) Push(ctx context.Context, userIDs []string, fresh map[string][]attribution.Touch) []Result {
	users := distinct(userIDs)
	defer p.locks.lock(users)()
	results := make([]Result, len(users))
	type pending struct {
		msg     segment.Message
		touches int
	}
	pend := make([]*pending, len(users))

	p.each(len(users), func(i int) {
		u := users[i]
		results[i] = Result{UserID: u}
		msg, n, outcome, err := p.prepare(ctx, u, fresh[u])
		results[i].Outcome, results[i].MessageID, results[i].Err = outcome, msg.MessageID, err
		if outcome == Sent { // to be sent
			pend[i] = &pending{msg: msg, touches: n}
		}
	})

	var msgs []segment.Message
	var idx []int
	for i, pd := range pend {
		if pd != nil {
			msgs = append(msgs, pd.msg)
			idx = append(idx, i)
		}
	}
	if len(msgs) > 0 {
		sent := p.Sender.Send(ctx, msgs)
		p.each(len(idx), func(j int) {
			i, r, pd := idx[j], sent[j], pend[idx[j]]
			results[i].DryRun = r.DryRun
			if !r.Sent {
				results[i].Outcome = Failed
				results[i].Err = fmt.Errorf("push attribution of %s: send identify %s: %w", users[i], pd.msg.MessageID, cmpErr(r.Err))
				return
			}
			wrote, err := p.State.Put(ctx, store.PushState{
				UserID: users[i], MessageID: pd.msg.MessageID, LastTouch: pd.msg.Timestamp, Touches: pd.touches, SentAt: p.now(),
			})
			if err != nil {
				// Segment has it, but without the state the next push cannot tell: fail so
				// the stream redelivers; resending the same messageId is deduplicated.
				results[i].Outcome = Failed
				results[i].Err = fmt.Errorf("push attribution of %s: %w", users[i], err)
				return
			}
			if !wrote {
				// Another process pushed newer traits while ours were in flight, and ours
				// may have landed after them.
				p.Log.DebugContext(ctx, "newer push state already stored; sending the current traits again", "user_id", users[i], "message_id", pd.msg.MessageID)
				if err := p.supersede(ctx, users[i], pd.msg.MessageID); err != nil {
					results[i].Outcome = Failed
					results[i].Err = fmt.Errorf("push attribution of %s: %w", users[i], err)
				}
			}
		})
	}
	p.logSummary(ctx, results)
	return results
}

// supersede sends u's current identify again under a superseding messageId, after an
// identify with older traits (stale) was acknowledged once newer ones had been stored.
func (p *Pusher) supersede(ctx context.Context, u, stale string) error {
	touches, err := p.People.UserTouches(ctx, u)
	if err != nil {
		return fmt.Errorf("resend current traits: %w", err)
	}
	msg, ok := attribution.Identify(u, touches)
	if !ok || msg.MessageID == stale {
		return nil
	}
	msg.MessageID = attribution.SupersedingMessageID(msg.MessageID, stale)
	if r := p.Sender.Send(ctx, []segment.Message{msg}); !r[0].Sent {
		return fmt.Errorf("resend current traits: send identify %s: %w", msg.MessageID, cmpErr(r[0].Err))
	}
	return nil
}

// prepare builds u's identify and decides whether it needs sending (outcome Sent).
func (p *Pusher) prepare(ctx context.Context, u string, fresh []attribution.Touch) (segment.Message, int, Outcome, error) {
	touches, err := p.People.UserTouches(ctx, u)
	if err != nil {
		return segment.Message{}, 0, Failed, fmt.Errorf("push attribution of %s: %w", u, err)
	}
	touches = merge(touches, fresh)
	msg, ok := attribution.Identify(u, touches)
	if !ok {
		return msg, 0, NoTouches, nil
	}
	st, err := p.State.Get(ctx, u)
	switch {
	case errors.Is(err, store.ErrNoPushState):
	case err != nil:
		return msg, 0, Failed, fmt.Errorf("push attribution of %s: %w", u, err)
	case st.MessageID == msg.MessageID:
		return msg, len(touches), Unchanged, nil
	}
	if p.Suppressed != nil {
		suppressed, err := p.Suppressed(ctx, u)
		if err != nil {
			return msg, 0, Failed, fmt.Errorf("push attribution of %s: check suppression: %w", u, err)
		}
		if suppressed {
			return msg, 0, Suppressed, nil
		}
	}
	return msg, len(touches), Sent, nil
}

// logSummary logs counts at info and ids at debug: never traits, which are personal data.
func (p *Pusher) logSummary(ctx context.Context, results []Result) {
	counts := map[Outcome]int{}
	dry := false
	for _, r := range results {
		counts[r.Outcome]++
		dry = dry || r.DryRun
		if r.Outcome == Sent {
			p.Log.DebugContext(ctx, "attribution pushed", "user_id", r.UserID, "message_id", r.MessageID, "dry_run", r.DryRun)
		}
	}
	args := []any{"users", len(results), "sent", counts[Sent], "unchanged", counts[Unchanged],
		"no_touches", counts[NoTouches], "suppressed", counts[Suppressed], "failed", counts[Failed], "dry_run", dry}
	if counts[Failed] > 0 {
		p.Log.WarnContext(ctx, "realtime push incomplete", args...)
		return
	}
	p.Log.InfoContext(ctx, "realtime push", args...)
}

func (p *Pusher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// each runs fn(0..n-1) with at most Concurrency calls at once. Every index runs, even
// after a cancellation: fn records each user's outcome, and a cancelled call fails fast.
func (p *Pusher) each(n int, fn func(i int)) {
	workers := p.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	var g errgroup.Group
	g.SetLimit(workers)
	for i := range n {
		g.Go(func() error { fn(i); return nil })
	}
	_ = g.Wait() // fn reports each outcome itself
}

func distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// merge adds the fresh touches the stored ones lack, by messageId.
func merge(stored, fresh []attribution.Touch) []attribution.Touch {
	if len(fresh) == 0 {
		return stored
	}
	seen := make(map[string]bool, len(stored))
	for _, t := range stored {
		seen[t.MessageID] = true
	}
	out := stored
	for _, t := range fresh {
		if !seen[t.MessageID] {
			seen[t.MessageID] = true
			out = append(out, t)
		}
	}
	return out
}

func cmpErr(err error) error {
	if err == nil {
		return errors.New("not acknowledged")
	}
	return err
}
