// Package backfill sends attribution to Segment for many users at once: after a
// historic import, or when the traits contract changes. It builds its messages as the
// /segment routes do (attribution.Identify, attribution.UserTrack), so a backfill and a
// trigger of the same touches send the same messageIds, and rerunning a backfill is
// recognisably the same messages downstream.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/store"
	"golang.org/x/time/rate"
)

// Options select whom to send for and how.
type Options struct {
	// Since and Until bound the touches that make a user part of the backfill (zero:
	// unbounded). The identify traits are always computed over all of a user's touches.
	Since, Until time.Time
	// Users limits the backfill to these userIds; no table is read to find users.
	Users []string
	// Track also sends one Source Identified track per touch in the window.
	Track bool
	// Event is the track event's name.
	Event string
	// DryRun builds every message and sends none.
	DryRun bool
	// Rate is the most messages sent per second (0: unlimited).
	Rate float64
	// Chunk is how many users' messages go to one Send (default 200).
	Chunk int
	// Progress, when set, is called after each chunk.
	Progress func(Summary)
}

// Summary counts what a backfill did.
type Summary struct {
	Users      int           `json:"users"`
	Skipped    int           `json:"skipped"` // users with no touches, or suppressed
	Identifies int           `json:"identifies"`
	Tracks     int           `json:"tracks"`
	Failed     int           `json:"failed"`
	DryRun     bool          `json:"dryRun"`
	Elapsed    time.Duration `json:"elapsedNs"`
	// FirstError describes the first failed message, if any.
	FirstError string `json:"firstError,omitempty"`
}

// People gives a user's touches over all linked ids (people.Resolver does).
type People interface {
	UserTouches(ctx context.Context, userID string) ([]attribution.Touch, error)
}

// Links finds the users an anonymous id identified as (store.Identities does).
type Links interface {
	ByAnonymous(ctx context.Context, anonymousID string) ([]store.Link, error)
}

// Touches finds whom a backfill is for (store.Touches does).
type Touches interface {
	PeopleInWindow(ctx context.Context, since, until time.Time) (userIDs, anonymousIDs []string, err error)
}

// Runner runs backfills.
type Runner struct {
	Touches Touches
	People  People
	Links   Links
	Sender  segment.Sender
	Log     *slog.Logger
	// Suppressed, when set, keeps erased users out of the backfill.
	Suppressed func(ctx context.Context, userID string) (bool, error)
}

// ErrNotAllSent means some messages were refused or could not be delivered; the
// summary says how many. Rerunning sends the same messageIds.
var ErrNotAllSent = errors.New("not every message was sent")

// Run finds the users and sends their attribution.
func (r *Runner) Run(ctx context.Context, o Options) (Summary, error) {
	start := time.Now()
	if o.Chunk <= 0 {
		o.Chunk = 200
	}
	if o.Event == "" {
		o.Event = config.DefaultSourceEvent
	}
	users := slices.Clone(o.Users)
	if len(users) == 0 {
		var err error
		if users, err = r.usersWithTouches(ctx, o.Since, o.Until); err != nil {
			return Summary{}, err
		}
	}
	slices.Sort(users)
	users = slices.Compact(users)

	sum := Summary{DryRun: o.DryRun}
	limiter := newLimiter(o.Rate)
	for i := 0; i < len(users); i += o.Chunk {
		chunk := users[i:min(i+o.Chunk, len(users))]
		msgs, skipped, err := r.messages(ctx, chunk, o)
		if err != nil {
			return sum, err
		}
		sum.Users += len(chunk)
		sum.Skipped += skipped
		for _, m := range msgs {
			if m.Type == segment.TypeIdentify {
				sum.Identifies++
			} else {
				sum.Tracks++
			}
		}
		if !o.DryRun && len(msgs) > 0 {
			if err := waitN(ctx, limiter, len(msgs)); err != nil {
				return sum, fmt.Errorf("backfill: %w", err)
			}
			for _, res := range r.Sender.Send(ctx, msgs) {
				if !res.Sent {
					sum.Failed++
					if sum.FirstError == "" && res.Err != nil {
						sum.FirstError = res.MessageID + ": " + res.Err.Error()
					}
				}
			}
		}
		sum.Elapsed = time.Since(start)
		if o.Progress != nil {
			o.Progress(sum)
		}
		if err := ctx.Err(); err != nil {
			return sum, fmt.Errorf("backfill interrupted: %w", err)
		}
	}
	sum.Elapsed = time.Since(start)
	if sum.Failed > 0 {
		return sum, fmt.Errorf("%w: %d failed, first %s", ErrNotAllSent, sum.Failed, sum.FirstError)
	}
	return sum, nil
}

// messages builds the identify (and tracks) of each user, skipping users with no
// touches or suppressed ones.
func (r *Runner) messages(ctx context.Context, users []string, o Options) ([]segment.Message, int, error) {
	var msgs []segment.Message
	skipped := 0
	for _, u := range users {
		if r.Suppressed != nil {
			erased, err := r.Suppressed(ctx, u)
			if err != nil {
				return nil, 0, fmt.Errorf("backfill user %s: %w", u, err)
			}
			if erased {
				skipped++
				continue
			}
		}
		touches, err := r.People.UserTouches(ctx, u)
		if err != nil {
			return nil, 0, fmt.Errorf("backfill user %s: %w", u, err)
		}
		identify, ok := attribution.Identify(u, touches)
		if !ok {
			skipped++
			continue
		}
		msgs = append(msgs, identify)
		if o.Track {
			for _, t := range touches {
				if inWindow(t.Timestamp, o.Since, o.Until) {
					msgs = append(msgs, attribution.UserTrack(u, o.Event, t))
				}
			}
		}
	}
	return msgs, skipped, nil
}

// usersWithTouches finds the users with a touch in the window: those whose touches carry
// their userId, and those an anonymous visitor in the window was linked to.
func (r *Runner) usersWithTouches(ctx context.Context, since, until time.Time) ([]string, error) {
	users, anons, err := r.Touches.PeopleInWindow(ctx, since, until)
	if err != nil {
		return nil, err
	}
	for _, a := range anons {
		links, err := r.Links.ByAnonymous(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("users of anonymous id %s: %w", a, err)
		}
		for _, l := range links {
			users = append(users, l.UserID)
		}
	}
	return users, nil
}

func inWindow(t, since, until time.Time) bool {
	return (since.IsZero() || !t.Before(since)) && (until.IsZero() || t.Before(until))
}

// newLimiter lets at most perSecond messages go out per second on average (0: no
// limit). Its burst is one second's worth, so a chunk larger than that waits in steps.
func newLimiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(math.Ceil(perSecond))))
}

// waitN waits until n messages may go out.
func waitN(ctx context.Context, l *rate.Limiter, n int) error {
	if l.Limit() == rate.Inf {
		return nil
	}
	for n > 0 {
		step := min(n, max(1, l.Burst()))
		if err := l.WaitN(ctx, step); err != nil {
			return err
		}
		n -= step
	}
	return nil
}
