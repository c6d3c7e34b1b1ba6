package query_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/event/eventtest"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/query"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var t0 = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

const day = 24 * time.Hour

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is a query API over fresh tables, served over HTTP as the local stack serves it.
type env struct {
	events     *store.Events
	identities *store.Identities
	touches    *store.Touches
	handler    *query.Handler
	url        string
}

func newEnv(t *testing.T, apiKey string) *env {
	t.Helper()
	db, tables := dbtest.New(t)
	e := &env{
		events:     store.NewEvents(db, tables.Events),
		identities: store.NewIdentities(db, tables.Identities),
		touches:    store.NewTouches(db, tables.Touches),
	}
	e.handler = &query.Handler{Log: quiet(), People: &people.Resolver{Identities: e.identities, Touches: e.touches, Events: e.events}}
	srv := httptest.NewServer(httpapi.NewServer(quiet(), 10*time.Second,
		httpapi.Route{Method: http.MethodGet, Path: query.UserPath, Handler: httpapi.RequireAPIKey(apiKey, e.handler.User)},
		httpapi.Route{Method: http.MethodGet, Path: query.AnonymousPath, Handler: httpapi.RequireAPIKey(apiKey, e.handler.Anonymous)},
		httpapi.Route{Method: http.MethodGet, Path: query.AttributionPath, Handler: httpapi.RequireAPIKey(apiKey, e.handler.Attribution)},
	))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

type response struct {
	UserID             string                          `json:"userId"`
	AnonymousID        string                          `json:"anonymousId"`
	AnonymousIDs       []string                        `json:"anonymousIds"`
	UserIDs            []string                        `json:"userIds"`
	Touches            []attribution.Touch             `json:"touches"`
	FirstTouch         *attribution.Touch              `json:"firstTouch"`
	LastTouch          *attribution.Touch              `json:"lastTouch"`
	LastNonDirectTouch *attribution.Touch              `json:"lastNonDirectTouch"`
	Attribution        map[string][]attribution.Credit `json:"attribution"`
	Events             []struct {
		MessageID string          `json:"messageId"`
		Type      string          `json:"type"`
		Timestamp time.Time       `json:"timestamp"`
		Event     json.RawMessage `json:"event"`
	} `json:"events"`
	Cursor   *string              `json:"cursor"`
	MergeCap *store.MergeCap      `json:"mergeCap"`
	Model    string               `json:"model"`
	Credits  []attribution.Credit `json:"credits"`
	Error    string               `json:"error"`
}

// get requests path (already escaped) with optional query and API key.
func (e *env) get(t *testing.T, path string, q url.Values, key string) (int, response) {
	t.Helper()
	u := e.url + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var r response
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	return res.StatusCode, r
}

func touch(msg, anon, user string, at time.Time, d source.Description) attribution.Touch {
	return attribution.Touch{MessageID: msg, AnonymousID: anon, UserID: user, Timestamp: at, URL: "https://shop.example/?m=" + msg, Description: d}
}

func search() source.Description {
	return source.Description{Referrer: source.Referrer{Type: source.TypeSearch, Engine: "google"}, Channel: "Organic Search"}
}

func direct() source.Description {
	return source.Description{Referrer: source.Referrer{Type: source.TypeDirect}, Channel: "Direct"}
}

func newsletter() source.Description {
	return source.Description{Referrer: source.Referrer{Type: source.TypeDirect}, Campaign: &source.Campaign{Source: "newsletter", Medium: "email", Campaign: "spring"}, Channel: "Email"}
}

func messageIDs(ts []attribution.Touch) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.MessageID)
	}
	return out
}

// A visitor finds the shop on their laptop, comes back on their phone from a newsletter
// and signs up there: the user's touches are both devices', oldest first. The identify
// event goes through the whole local stack: webhook, stream, identify consumer.
func TestTwoDevicesSignUpOnTheSecond(t *testing.T) {
	ctx := context.Background()
	db, tables := dbtest.New(t)
	cfg, err := config.FromLookup(func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.EventsTable, cfg.IdentitiesTable, cfg.TouchesTable = tables.Events, tables.Identities, tables.Touches
	cfg.APIKey = "secret"
	stack, err := server.New(server.Options{Config: cfg, DB: db, Log: quiet(), DataDir: t.TempDir(),
		Stream: stream.EmulatorOptions{Backoff: 10 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = stack.Stream.Close(context.Background()) })
	srv := httptest.NewServer(stack.Handler)
	t.Cleanup(srv.Close)

	touches := store.NewTouches(db, tables.Touches)
	for _, tc := range []attribution.Touch{
		touch("p1", "laptop", "", t0, search()),
		touch("p2", "phone", "", t0.Add(3*day), newsletter()),
		touch("p3", "phone", "", t0.Add(3*day+time.Hour), direct()),
		touch("p9", "stranger", "", t0.Add(day), search()),
	} {
		require.NoError(t, touches.Put(ctx, tc))
	}
	body := `[
	 {"type":"identify","messageId":"i1","anonymousId":"phone","userId":"ada@example.com","timestamp":"2024-03-04T11:00:00Z"},
	 {"type":"identify","messageId":"i2","anonymousId":"laptop","userId":"ada@example.com","timestamp":"2024-03-05T08:00:00Z"}
	]`
	res, err := http.Post(srv.URL+"/events", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.NoError(t, stack.Stream.Idle(ctx))

	e := &env{url: srv.URL}
	status, r := e.get(t, "/api/user/"+url.PathEscape("ada@example.com"), nil, "secret")
	require.Equal(t, http.StatusOK, status, r.Error)
	assert.Equal(t, "ada@example.com", r.UserID)
	assert.Equal(t, []string{"laptop", "phone"}, r.AnonymousIDs)
	assert.Equal(t, []string{"p1", "p2", "p3"}, messageIDs(r.Touches))
	require.NotNil(t, r.FirstTouch)
	assert.Equal(t, "p1", r.FirstTouch.MessageID)
	assert.Equal(t, "p3", r.LastTouch.MessageID)
	assert.Equal(t, "p2", r.LastNonDirectTouch.MessageID)
	require.Len(t, r.Events, 2)
	assert.Equal(t, "i2", r.Events[0].MessageID, "newest first")
	assert.JSONEq(t, `"ada@example.com"`, string(mustField(t, r.Events[0].Event, "userId")))
	assert.Nil(t, r.Cursor)

	status, r = e.get(t, "/api/anonymous/phone", nil, "secret")
	require.Equal(t, http.StatusOK, status, r.Error)
	assert.Equal(t, []string{"ada@example.com"}, r.UserIDs)
	assert.Equal(t, []string{"p2", "p3"}, messageIDs(r.Touches))

	status, r = e.get(t, "/api/user/"+url.PathEscape("ada@example.com")+"/attribution", url.Values{"model": {"first"}}, "secret")
	require.Equal(t, http.StatusOK, status, r.Error)
	assert.Equal(t, "first", r.Model)
	require.Len(t, r.Credits, 1)
	assert.Equal(t, "Organic Search", r.Credits[0].Channel)
}

func mustField(t *testing.T, raw json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &m))
	return m[name]
}

// An account that existed under an old userId is aliased to a new one: the new user
// sees the old one's devices, its server-side touches and its events.
func TestAliasMergesAFormerUser(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	for _, l := range []store.Link{
		{UserID: "old", AnonymousID: "laptop", Source: store.LinkIdentify, MessageID: "i1", FirstSeen: t0},
		{UserID: "new", AnonymousID: "laptop", Source: store.LinkAlias, MessageID: "al", FirstSeen: t0.Add(day), Via: "old"},
		{UserID: "new", AnonymousID: "old", Source: store.LinkAlias, MessageID: "al", FirstSeen: t0.Add(day), Aliased: true},
	} {
		require.NoError(t, e.identities.Put(ctx, l))
	}
	for _, tc := range []attribution.Touch{
		touch("p1", "laptop", "", t0, search()),
		touch("p2", "", "old", t0.Add(time.Hour), newsletter()), // server-side page call: visitor "user:old"
		touch("p3", "tablet", "old", t0.Add(2*time.Hour), direct()),
		touch("p4", "", "new", t0.Add(2*day), direct()),
	} {
		require.NoError(t, e.touches.Put(ctx, tc))
	}
	for _, f := range []map[string]any{
		{"type": "track", "event": "Signed Up", "messageId": "e1", "userId": "old", "timestamp": "2024-03-01T10:00:00Z"},
		{"type": "alias", "messageId": "al", "previousId": "old", "userId": "new", "timestamp": "2024-03-02T09:30:00Z"},
	} {
		_, err := e.events.Put(ctx, eventtest.FromFields(t, f))
		require.NoError(t, err)
	}
	status, r := e.get(t, "/api/user/new", nil, "")
	require.Equal(t, http.StatusOK, status, r.Error)
	assert.Equal(t, []string{"laptop", "old"}, r.AnonymousIDs)
	assert.Equal(t, []string{"p1", "p2", "p3", "p4"}, messageIDs(r.Touches))
	var got []string
	for _, ev := range r.Events {
		got = append(got, ev.MessageID)
	}
	assert.Equal(t, []string{"al", "e1"}, got)
}

// 1,050 events spread over a userId and three anonymous ids, many of them in two
// indexes at once and many sharing a millisecond, come back exactly once, newest first,
// whatever the page size.
func TestPaginationReturnsEveryEventExactlyOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	anons := []string{"a1", "a2", "a3"}
	for i, a := range anons {
		require.NoError(t, e.identities.Put(ctx, store.Link{UserID: "u", AnonymousID: a, Source: store.LinkIdentify, MessageID: fmt.Sprint("i", i), FirstSeen: t0}))
	}
	var evs []event.Event
	for i := range 1050 {
		f := map[string]any{"type": "track", "event": "Clicked", "messageId": fmt.Sprintf("m%04d", i),
			// Groups of three share a millisecond, across sources.
			"timestamp": t0.Add(time.Duration(i/3) * time.Second).Format(event.TimeLayout)}
		switch i % 5 {
		case 0:
			f["userId"] = "u"
		case 1:
			f["userId"], f["anonymousId"] = "u", anons[i%3] // in two indexes
		default:
			f["anonymousId"] = anons[i%3]
		}
		evs = append(evs, eventtest.FromFields(t, f))
	}
	// Events of others that must not appear.
	evs = append(evs,
		eventtest.FromFields(t, map[string]any{"type": "track", "event": "x", "messageId": "other-1", "anonymousId": "a9", "timestamp": t0.Format(event.TimeLayout)}),
		eventtest.FromFields(t, map[string]any{"type": "track", "event": "x", "messageId": "other-2", "userId": "v", "timestamp": t0.Format(event.TimeLayout)}),
	)
	putAll(t, e.events, evs)

	for _, limit := range []int{100, 7, 1000} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			seen := map[string]int{}
			var last time.Time
			q := url.Values{"limit": {fmt.Sprint(limit)}}
			pages := 0
			for {
				status, r := e.get(t, "/api/user/u", q, "")
				require.Equal(t, http.StatusOK, status, r.Error)
				pages++
				require.LessOrEqual(t, len(r.Events), limit)
				for _, ev := range r.Events {
					seen[ev.MessageID]++
					if !last.IsZero() {
						require.False(t, ev.Timestamp.After(last), "newest first")
					}
					last = ev.Timestamp
				}
				if r.Cursor == nil {
					break
				}
				require.Len(t, r.Events, limit, "only the last page is short")
				q.Set("cursor", *r.Cursor)
			}
			assert.Len(t, seen, 1050)
			for id, n := range seen {
				assert.Equal(t, 1, n, id)
				assert.False(t, strings.HasPrefix(id, "other"), id)
			}
			assert.Equal(t, (1050+limit-1)/limit, pages)
		})
	}
}

func putAll(t *testing.T, s *store.Events, evs []event.Event) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(evs))
	for _, ev := range evs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := s.Put(context.Background(), ev); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, "s3cret")
	require.NoError(t, e.identities.Put(context.Background(), store.Link{UserID: "u", AnonymousID: "a", Source: store.LinkIdentify, MessageID: "m", FirstSeen: t0}))
	for _, path := range []string{"/api/user/u", "/api/anonymous/a", "/api/user/u/attribution?model=linear"} {
		for name, tt := range map[string]struct {
			key  string
			want int
		}{
			"missing": {"", http.StatusUnauthorized},
			"wrong":   {"s3cre", http.StatusUnauthorized},
			"right":   {"s3cret", http.StatusOK},
		} {
			t.Run(path+" "+name, func(t *testing.T) {
				p, q, _ := strings.Cut(path, "?")
				vals, _ := url.ParseQuery(q)
				status, r := e.get(t, p, vals, tt.key)
				assert.Equal(t, tt.want, status, r.Error)
				if tt.want == http.StatusUnauthorized {
					assert.NotEmpty(t, r.Error)
					assert.Empty(t, r.Touches)
				}
			})
		}
	}
}

// Ids with characters that are unsafe in URLs round-trip through the local server.
func TestURLUnsafeIDsRoundTrip(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	ids := []string{
		"jane.doe+test@example.com",
		"a/b",
		"ünïcødé 東京",
		"100% sure",
		"what?#frag",
		"%41-literal",
		"semi;colon&amp=1",
	}
	for i, id := range ids {
		anon := "anon " + id
		require.NoError(t, e.identities.Put(ctx, store.Link{UserID: id, AnonymousID: anon, Source: store.LinkIdentify, MessageID: fmt.Sprint("m", i), FirstSeen: t0}))
		require.NoError(t, e.touches.Put(ctx, touch(fmt.Sprint("p", i), anon, "", t0, search())))
		t.Run(id, func(t *testing.T) {
			status, r := e.get(t, "/api/user/"+url.PathEscape(id), nil, "")
			require.Equal(t, http.StatusOK, status, r.Error)
			assert.Equal(t, id, r.UserID)
			assert.Equal(t, []string{anon}, r.AnonymousIDs)

			status, r = e.get(t, "/api/anonymous/"+url.PathEscape(anon), nil, "")
			require.Equal(t, http.StatusOK, status, r.Error)
			assert.Equal(t, anon, r.AnonymousID)
			assert.Equal(t, []string{id}, r.UserIDs)

			status, r = e.get(t, "/api/user/"+url.PathEscape(id)+"/attribution", url.Values{"model": {"last"}}, "")
			require.Equal(t, http.StatusOK, status, r.Error)
			require.Len(t, r.Credits, 1)
		})
	}
}

func TestUnknownIDsAre404(t *testing.T) {
	e := newEnv(t, "")
	for _, path := range []string{"/api/user/nobody", "/api/anonymous/nobody", "/api/user/nobody/attribution?model=first"} {
		t.Run(path, func(t *testing.T) {
			p, q, _ := strings.Cut(path, "?")
			vals, _ := url.ParseQuery(q)
			status, r := e.get(t, p, vals, "")
			assert.Equal(t, http.StatusNotFound, status)
			assert.NotEmpty(t, r.Error)
		})
	}
}

func TestAnIDWithOnlyEventsIsKnown(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	_, err := e.events.Put(ctx, eventtest.FromFields(t, map[string]any{"type": "track", "event": "x", "messageId": "m1", "userId": "u", "anonymousId": "a", "timestamp": "2024-03-01T10:00:00Z"}))
	require.NoError(t, err)
	for _, path := range []string{"/api/user/u", "/api/anonymous/a"} {
		status, r := e.get(t, path, nil, "")
		require.Equal(t, http.StatusOK, status, r.Error)
		require.Len(t, r.Events, 1)
		assert.Equal(t, "track", r.Events[0].Type)
		assert.Empty(t, r.Touches)
		assert.Nil(t, r.FirstTouch)
	}
	status, r := e.get(t, "/api/user/u/attribution", url.Values{"model": {"linear"}}, "")
	require.Equal(t, http.StatusOK, status, r.Error)
	assert.Empty(t, r.Credits)
}

func TestBadRequests(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	for i, a := range []string{"a1", "a2"} {
		require.NoError(t, e.identities.Put(ctx, store.Link{UserID: "u", AnonymousID: a, Source: store.LinkIdentify, MessageID: fmt.Sprint(i), FirstSeen: t0}))
	}
	require.NoError(t, e.identities.Put(ctx, store.Link{UserID: "v", AnonymousID: "b1", Source: store.LinkIdentify, MessageID: "x", FirstSeen: t0}))
	var evs []event.Event
	for i := range 5 {
		evs = append(evs, eventtest.FromFields(t, map[string]any{"type": "track", "event": "x", "messageId": fmt.Sprint("e", i), "anonymousId": "a1", "timestamp": t0.Add(time.Duration(i) * time.Minute).Format(time.RFC3339)}))
	}
	putAll(t, e.events, evs)
	status, first := e.get(t, "/api/user/u", url.Values{"limit": {"2"}}, "")
	require.Equal(t, http.StatusOK, status)
	require.NotNil(t, first.Cursor)
	_, other := e.get(t, "/api/anonymous/a1", url.Values{"limit": {"2"}}, "")
	require.NotNil(t, other.Cursor)

	doc := func(v any) string {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	decoded, err := base64.RawURLEncoding.DecodeString(*first.Cursor)
	require.NoError(t, err)
	tampered := doc(json.RawMessage(bytes.Replace(decoded, []byte(`"a2"`), []byte(`"b1"`), 1)))

	tests := []struct {
		name, path string
		q          url.Values
		want       string // part of the error
	}{
		{"cursor not base64", "/api/user/u", url.Values{"cursor": {"!!!"}}, "cursor"},
		{"cursor empty", "/api/user/u", url.Values{"cursor": {""}}, "cursor"},
		{"cursor not JSON", "/api/user/u", url.Values{"cursor": {base64.RawURLEncoding.EncodeToString([]byte("nope"))}}, "cursor"},
		{"cursor of another id", "/api/user/v", url.Values{"cursor": {*first.Cursor}}, "cursor"},
		{"cursor of another route", "/api/user/u", url.Values{"cursor": {*other.Cursor}}, "cursor"},
		{"cursor naming someone else's device", "/api/user/u", url.Values{"cursor": {tampered}}, "cursor"},
		{"cursor with a bad position", "/api/user/u", url.Values{"cursor": {doc(map[string]any{"v": 1, "for": "user:u", "s": []map[string]any{{"u": true, "id": "u", "t": "yesterday", "m": "x"}}})}}, "cursor"},
		{"cursor with unknown fields", "/api/user/u", url.Values{"cursor": {doc(map[string]any{"v": 1, "for": "user:u", "s": []map[string]any{{"u": true, "id": "u"}}, "x": 1})}}, "cursor"},
		{"limit zero", "/api/user/u", url.Values{"limit": {"0"}}, "limit"},
		{"limit negative", "/api/anonymous/a1", url.Values{"limit": {"-1"}}, "limit"},
		{"limit too large", "/api/user/u", url.Values{"limit": {"1001"}}, "limit"},
		{"limit not a number", "/api/user/u", url.Values{"limit": {"ten"}}, "limit"},
		{"no model", "/api/user/u/attribution", nil, "first, last, last_non_direct, linear, position, time_decay"},
		{"bad model", "/api/user/u/attribution", url.Values{"model": {"shapley"}}, "first, last, last_non_direct, linear, position, time_decay"},
		{"bad half-life", "/api/user/u/attribution", url.Values{"model": {"time_decay"}, "halfLifeDays": {"-3"}}, "halfLifeDays"},
		{"bad until", "/api/user/u/attribution", url.Values{"model": {"linear"}, "until": {"tomorrow"}}, "until"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, r := e.get(t, tt.path, tt.q, "")
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Contains(t, r.Error, tt.want)
		})
	}

	// The untampered cursor still works and continues where the first page stopped.
	status, next := e.get(t, "/api/user/u", url.Values{"limit": {"2"}, "cursor": {*first.Cursor}}, "")
	require.Equal(t, http.StatusOK, status, next.Error)
	require.Len(t, next.Events, 2)
	assert.Equal(t, "e2", next.Events[0].MessageID)
}

func TestAttributionModels(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	require.NoError(t, e.identities.Put(ctx, store.Link{UserID: "u", AnonymousID: "a", Source: store.LinkIdentify, MessageID: "m", FirstSeen: t0}))
	for _, tc := range []attribution.Touch{
		touch("p1", "a", "", t0, search()),
		touch("p2", "a", "", t0.Add(day), newsletter()),
		touch("p3", "a", "", t0.Add(2*day), direct()),
	} {
		require.NoError(t, e.touches.Put(ctx, tc))
	}
	for _, m := range attribution.Models() {
		t.Run(string(m), func(t *testing.T) {
			status, r := e.get(t, "/api/user/u/attribution", url.Values{"model": {string(m)}, "halfLifeDays": {"2.5"}}, "")
			require.Equal(t, http.StatusOK, status, r.Error)
			assert.Equal(t, string(m), r.Model)
			sum := 0.0
			for _, c := range r.Credits {
				sum += c.Credit
			}
			assert.InDelta(t, 1, sum, 1e-9)
		})
	}
	status, r := e.get(t, "/api/user/u/attribution", url.Values{"model": {"last"}, "until": {"2024-03-02T12:00:00Z"}}, "")
	require.Equal(t, http.StatusOK, status, r.Error)
	require.Len(t, r.Credits, 1)
	assert.Equal(t, "Email", r.Credits[0].Channel, "touches after until do not count")
}

// The query Lambda serves every route from one handler, as API Gateway invokes it:
// route key set, path and parameter already decoded.
func TestHandleDispatchesOnTheRouteKey(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	require.NoError(t, e.identities.Put(ctx, store.Link{UserID: "a/b@c", AnonymousID: "x", Source: store.LinkIdentify, MessageID: "m", FirstSeen: t0}))
	req := func(route, rawPath string, q map[string]string) events.APIGatewayV2HTTPRequest {
		return events.APIGatewayV2HTTPRequest{RouteKey: route, RawPath: rawPath, PathParameters: map[string]string{"id": "a/b@c"}, QueryStringParameters: q}
	}
	tests := []struct {
		name string
		req  events.APIGatewayV2HTTPRequest
		want int
	}{
		{"user", req("GET /api/user/{id}", "/api/user/a/b@c", nil), http.StatusOK},
		{"attribution", req("GET /api/user/{id}/attribution", "/api/user/a/b@c/attribution", map[string]string{"model": "first"}), http.StatusOK},
		{"anonymous (unknown)", req("GET /api/anonymous/{id}", "/api/anonymous/a/b@c", nil), http.StatusNotFound},
		{"other route", req("GET /nowhere", "/nowhere", nil), http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := httpapi.Dispatch(e.handler.Routes()...)(ctx, tt.req)
			require.NoError(t, err)
			assert.Equal(t, tt.want, resp.StatusCode, resp.Body)
		})
	}
}

func TestPersonRoutesSayWhenAMergeCapWasReached(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	e.identities.MaxAnonymousIDsPerUser, e.identities.MaxUsersPerAnonymousID = 2, 5
	for _, a := range []string{"a1", "a2", "a3"} {
		err := e.identities.Put(ctx, store.Link{UserID: "u1", AnonymousID: a, Source: store.LinkIdentify, MessageID: "m-" + a, FirstSeen: t0})
		if a == "a3" {
			require.ErrorIs(t, err, store.ErrCapReached)
		} else {
			require.NoError(t, err)
		}
	}
	status, r := e.get(t, "/api/user/u1", nil, "")
	require.Equal(t, http.StatusOK, status)
	assert.Nil(t, r.MergeCap, "without MergeCaps the answer has none")

	e.handler.MergeCaps = e.identities
	status, r = e.get(t, "/api/user/u1", nil, "")
	require.Equal(t, http.StatusOK, status)
	require.NotNil(t, r.MergeCap)
	assert.True(t, r.MergeCap.Reached)
	assert.Equal(t, 2, r.MergeCap.Linked)
	assert.Equal(t, []string{"a1", "a2"}, r.AnonymousIDs)

	status, r = e.get(t, "/api/anonymous/a1", nil, "")
	require.Equal(t, http.StatusOK, status)
	require.NotNil(t, r.MergeCap)
	assert.False(t, r.MergeCap.Reached)
	assert.Equal(t, 1, r.MergeCap.Linked)
}
