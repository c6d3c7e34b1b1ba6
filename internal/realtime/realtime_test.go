package realtime_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/realtime"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

type fakePeople map[string][]attribution.Touch

func (f fakePeople) UserTouches(_ context.Context, u string) ([]attribution.Touch, error) {
	return f[u], nil
}

type fakeStates struct {
	mu     sync.Mutex
	m      map[string]store.PushState
	putErr error
}

func (f *fakeStates) Get(_ context.Context, u string) (store.PushState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.m[u]
	if !ok {
		return store.PushState{}, store.ErrNoPushState
	}
	return st, nil
}

func (f *fakeStates) Put(_ context.Context, st store.PushState) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.putErr != nil {
		return false, f.putErr
	}
	// store.PushStates' rule: written unless a newer state (later last touch, or as late
	// with more touches) is stored.
	if old, ok := f.m[st.UserID]; ok && (old.LastTouch.After(st.LastTouch) || (old.LastTouch.Equal(st.LastTouch) && old.Touches > st.Touches)) {
		return false, nil
	}
	f.m[st.UserID] = st
	return true, nil
}

type fakeSender struct{ sent []segment.Message }

func (f *fakeSender) Send(_ context.Context, msgs []segment.Message) []segment.Result {
	f.sent = append(f.sent, msgs...)
	out := make([]segment.Result, len(msgs))
	for i, m := range msgs {
		out[i] = segment.Result{MessageID: m.MessageID, Sent: true}
	}
	return out
}

func touch(id string, at time.Time, typ source.Type) attribution.Touch {
	return attribution.Touch{MessageID: id, AnonymousID: "a1", Timestamp: at, Description: source.Description{Referrer: source.Referrer{Type: typ}}}
}

func TestPushOutcomes(t *testing.T) {
	ctx := context.Background()
	ppl := fakePeople{
		"u1": {touch("p1", t0, source.TypeSearch)},
		"u2": {touch("p2", t0, source.TypeSocial)},
		"u3": {touch("p3", t0, source.TypeEmail)},
	}
	states := &fakeStates{m: map[string]store.PushState{}}
	sender := &fakeSender{}
	p := &realtime.Pusher{
		People: ppl, Sender: sender, State: states, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Suppressed: func(_ context.Context, u string) (bool, error) { return u == "u3", nil },
		Now:        func() time.Time { return t0 },
	}
	fresh := map[string][]attribution.Touch{"u1": {touch("p9", t0.Add(time.Hour), source.TypeDirect)}}
	res := p.Push(ctx, []string{"u1", "u2", "u1", "nobody", "u3"}, fresh)
	outcomes := map[string]realtime.Outcome{}
	for _, r := range res {
		outcomes[r.UserID] = r.Outcome
		assert.NoError(t, r.Err)
	}
	assert.Equal(t, map[string]realtime.Outcome{"u1": realtime.Sent, "u2": realtime.Sent, "nobody": realtime.NoTouches, "u3": realtime.Suppressed}, outcomes)
	require.Len(t, sender.sent, 2, "one message per changed user, suppressed users never")
	assert.Equal(t, t0.Add(time.Hour), states.m["u1"].LastTouch, "fresh touches count even before the store returns them")
	assert.Equal(t, 2, states.m["u1"].Touches)

	res = p.Push(ctx, []string{"u1", "u2"}, fresh)
	for _, r := range res {
		assert.Equal(t, realtime.Unchanged, r.Outcome)
	}
	assert.Len(t, sender.sent, 2)

	// Segment took it but the state could not be written: fail, so the stream retries.
	ppl["u1"] = append(ppl["u1"], fresh["u1"]...) // the store caught up
	ppl["u2"] = append(ppl["u2"], touch("p4", t0.Add(time.Hour), source.TypeAI))
	states.putErr = errors.New("dynamodb down")
	failed := p.Failures(ctx, []string{"u1", "u2"}, nil)
	require.Len(t, failed, 1)
	assert.ErrorContains(t, failed["u2"], "dynamodb down")
	assert.ErrorContains(t, p.Failures(ctx, []string{"u2"}, nil)["u2"], "push attribution of u2")
}
