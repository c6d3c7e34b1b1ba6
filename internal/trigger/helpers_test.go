package trigger_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/trigger"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const writeKey = "wk-test"

var (
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
	base  = time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
)

// env is a trigger handler over real dynalite tables and a fake Segment.
type env struct {
	t          *testing.T
	touches    *store.Touches
	identities *store.Identities
	fake       *segmenttest.Server
	h          *trigger.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, tables := dbtest.New(t)
	e := &env{t: t, touches: store.NewTouches(db, tables.Touches), identities: store.NewIdentities(db, tables.Identities), fake: segmenttest.NewServer(t, writeKey)}
	e.h = &trigger.Handler{
		People: &people.Resolver{Identities: e.identities, Touches: e.touches, Events: store.NewEvents(db, tables.Events)},
		Sender: newClient(t, segment.Config{WriteKey: writeKey, Endpoint: e.fake.URL}),
		Log:    quiet,
	}
	return e
}

// newClient returns a client whose retries take no time.
func newClient(t testing.TB, cfg segment.Config) *segment.Client {
	t.Helper()
	cfg.Sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 3
	}
	c, err := segment.New(cfg)
	require.NoError(t, err)
	return c
}

// link records that userID identified on each anonymous id, as the identify consumer would.
func (e *env) link(userID string, anonymousIDs ...string) {
	e.t.Helper()
	for _, a := range anonymousIDs {
		require.NoError(e.t, e.identities.Put(context.Background(), store.Link{
			UserID: userID, AnonymousID: a, Source: store.LinkIdentify, MessageID: "identify-" + a, FirstSeen: base, LastSeen: base,
		}))
	}
}

func (e *env) put(touches ...attribution.Touch) {
	e.t.Helper()
	for _, tc := range touches {
		require.NoError(e.t, e.touches.Put(context.Background(), tc))
	}
}

// putMany stores touches with some writes in flight at once: thousands one by one
// would make the test slow for no benefit.
func (e *env) putMany(touches []attribution.Touch) {
	e.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(touches))
	next := make(chan attribution.Touch)
	for range 32 {
		wg.Go(func() {
			for tc := range next {
				if err := e.touches.Put(context.Background(), tc); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, tc := range touches {
		next <- tc
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(e.t, err)
	}
}

func search(id, anon, user string, at time.Duration) attribution.Touch {
	return attribution.Touch{
		MessageID: id, AnonymousID: anon, UserID: user, Timestamp: base.Add(at),
		URL: "https://acme.io/", Referrer: "https://www.google.com/",
		Description: source.Description{Referrer: source.Referrer{Type: source.TypeSearch, Engine: "google"}, Channel: "Organic Search"},
	}
}

func direct(id, anon, user string, at time.Duration) attribution.Touch {
	return attribution.Touch{
		MessageID: id, AnonymousID: anon, UserID: user, Timestamp: base.Add(at), URL: "https://acme.io/pricing",
		Description: source.Description{Referrer: source.Referrer{Type: source.TypeDirect}, Channel: "Direct"},
	}
}

func newsletter(id, anon, user string, at time.Duration) attribution.Touch {
	return attribution.Touch{
		MessageID: id, AnonymousID: anon, UserID: user, Timestamp: base.Add(at),
		URL: "https://acme.io/?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
		Description: source.Description{
			Referrer: source.Referrer{Type: source.TypeDirect},
			Campaign: &source.Campaign{Source: "newsletter", Medium: "email", Campaign: "spring"},
			Channel:  "Email",
		},
	}
}

// result is a decoded answer.
type result struct {
	Error          string            `json:"error"`
	UserID         string            `json:"userId"`
	AnonymousID    string            `json:"anonymousId"`
	DryRun         bool              `json:"dryRun"`
	Sent           []trigger.Message `json:"sent"`
	Failed         []trigger.Message `json:"failed"`
	DetailsOmitted bool              `json:"detailsOmitted"`
}

// call invokes a route as API Gateway would: route key, raw path and decoded parameter.
func call(t testing.TB, h *trigger.Handler, path, id string) (int, result) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{
		RouteKey:       "GET " + path,
		RawPath:        fmt.Sprintf("%s/%s", path[:len(path)-len("/{id}")], url.PathEscape(id)),
		PathParameters: map[string]string{"id": id},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1"},
	}
	resp, err := httpapi.Dispatch(h.Routes()...)(context.Background(), req)
	require.NoError(t, err, "handlers answer every failure with a status, never a Go error")
	require.Equal(t, "application/json", resp.Headers["Content-Type"])
	var out result
	require.NoError(t, json.Unmarshal([]byte(resp.Body), &out), resp.Body)
	return resp.StatusCode, out
}

func messageIDs(ms []trigger.Message) []string {
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.MessageID
	}
	return ids
}
