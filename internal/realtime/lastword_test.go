package realtime_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/realtime"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

// livePeople is a person's touches as they change while pushes run.
type livePeople struct {
	mu sync.Mutex
	m  map[string][]attribution.Touch
}

func (l *livePeople) UserTouches(_ context.Context, u string) ([]attribution.Touch, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]attribution.Touch(nil), l.m[u]...), nil
}

func (l *livePeople) set(u string, ts ...attribution.Touch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[u] = ts
}

func lastIdentify(t *testing.T, fake *segmenttest.Server, user string) segmenttest.Message {
	t.Helper()
	var last *segmenttest.Message
	for _, m := range fake.Messages() {
		if m.Type == "identify" && m.UserID == user {
			last = &m
		}
	}
	require.NotNil(t, last, "no identify for %s", user)
	return *last
}

// Segment answers the first push 429 with Retry-After: 1 (or 503, retried after a
// backoff); while the client waits, the user gets a new touch and a second push starts.
// Whatever order the pushes run in, the last identify Segment receives carries the
// current traits.
func TestTheLastIdentifyCarriesTheCurrentTraitsAfterRetries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		separate   bool // the two pushes run in different processes (no shared lock)
		status     int
		retryAfter string
	}{
		{"one process, 429", false, http.StatusTooManyRequests, "1"},
		{"two processes, 429", true, http.StatusTooManyRequests, "1"},
		{"one process, 503", false, http.StatusServiceUnavailable, ""},
		{"two processes, 503", true, http.StatusServiceUnavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := segmenttest.NewServer(t, "wk")
			client, err := segment.New(segment.Config{WriteKey: "wk", Endpoint: fake.URL,
				MinBackoff: 500 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Rand: func() float64 { return 0.99 }})
			require.NoError(t, err)
			ppl := &livePeople{m: map[string][]attribution.Touch{}}
			states := &fakeStates{m: map[string]store.PushState{}}
			newPusher := func() *realtime.Pusher {
				return &realtime.Pusher{People: ppl, Sender: client, State: states, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			}
			first, second := newPusher(), newPusher()
			if !tc.separate {
				second = first
			}

			older := []attribution.Touch{touch("p1", t0, source.TypeSearch)}
			current := append(older, touch("p2", t0.Add(time.Hour), source.TypeSocial))
			ppl.set("u1", older...)
			fake.FailNext(1, tc.status, tc.retryAfter)

			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.Empty(t, first.Failures(context.Background(), []string{"u1"}, nil))
			}()
			require.Eventually(t, func() bool { return len(fake.Requests()) == 1 }, 5*time.Second, 5*time.Millisecond, "the first push met the 429")
			ppl.set("u1", current...)
			assert.Empty(t, second.Failures(context.Background(), []string{"u1"}, nil))
			wg.Wait()

			want, ok := attribution.Identify("u1", current)
			require.True(t, ok)
			got := lastIdentify(t, fake, "u1")
			assert.Equal(t, want.Traits["source_last_referrer_type"], got.Traits["source_last_referrer_type"])
			assert.Equal(t, "social", got.Traits["source_last_referrer_type"], "the current traits, not the ones delayed by the 429")
			assert.Zero(t, fake.Duplicates(), "every message Segment got has its own id: none would be dropped")
		})
	}
}
