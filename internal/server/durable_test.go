package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// restartable is the local stack over fixed tables and a fixed data directory, which
// can be stopped and started again as `attribution serve` is.
type restartable struct {
	t       *testing.T
	db      *dynamodb.Client
	tables  store.Tables
	dataDir string
	cfg     config.Config
	sender  *segment.Client
	stream  stream.EmulatorOptions
	stack   *server.Stack
	srv     *httptest.Server
}

func newRestartable(t *testing.T, sender *segment.Client, streamOpts stream.EmulatorOptions) *restartable {
	db, tables := dbtest.New(t)
	r := &restartable{t: t, db: db, tables: tables, dataDir: t.TempDir(), cfg: testConfig(t, tables), sender: sender, stream: streamOpts}
	t.Cleanup(func() {
		if r.stack != nil {
			r.stop(10 * time.Second)
		}
	})
	return r
}

func (r *restartable) options() server.Options {
	return server.Options{Config: r.cfg, DB: r.db, DataDir: r.dataDir, Log: quietLog(), Segment: r.sender, Stream: r.stream}
}

func (r *restartable) start() *env {
	r.t.Helper()
	stack, err := server.New(r.options())
	require.NoError(r.t, err)
	r.stack, r.srv = stack, httptest.NewServer(stack.Handler)
	return &env{t: r.t, url: r.srv.URL, stack: stack}
}

// stop shuts down as serve does: no new requests, then the stream within deadline.
func (r *restartable) stop(deadline time.Duration) error {
	r.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	err := r.stack.Stream.Close(ctx)
	r.stack = nil
	return err
}

func TestStopWithRecordsQueuedThenRestartEveryPageViewHasItsTouch(t *testing.T) {
	r := newRestartable(t, nil, stream.EmulatorOptions{Backoff: 10 * time.Millisecond})
	e := r.start()
	// One batch, as Webhooks (Actions) posts them: stored at once, derived later.
	const visitors = 300
	var batch []map[string]any
	for i := range visitors {
		batch = append(batch, map[string]any{
			"type": "page", "messageId": fmt.Sprintf("p%03d", i), "anonymousId": fmt.Sprintf("v%03d", i),
			"timestamp":  base.Format(time.RFC3339Nano),
			"properties": map[string]any{"url": "https://acme.io/", "referrer": "https://www.google.com/"},
		})
	}
	body, err := json.Marshal(batch)
	require.NoError(t, err)
	resp, err := http.Post(e.url+"/events", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	err = r.stop(time.Millisecond)
	require.Error(t, err, "the stop comes before the consumers are done")
	assert.Contains(t, err.Error(), "left for the next start")

	e = r.start()
	e.settle()
	touches := store.NewTouches(r.db, r.tables.Touches)
	for i := range visitors {
		got, err := touches.ByVisitor(context.Background(), fmt.Sprintf("v%03d", i))
		require.NoError(t, err)
		require.Len(t, got, 1, "visitor %d", i)
		assert.Equal(t, fmt.Sprintf("p%03d", i), got[0].MessageID)
	}
}

// outage is Segment behind a switch: while down it answers 500 to everything.
type outage struct {
	fake *segmenttest.Server
	down atomic.Bool
	URL  string
}

func newOutage(t *testing.T) *outage {
	o := &outage{fake: segmenttest.NewServer(t, "wk")}
	target, err := url.Parse(o.fake.URL)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if o.down.Load() {
			http.Error(w, `{"error":"down"}`, http.StatusInternalServerError)
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	o.URL = srv.URL
	return o
}

func (o *outage) client(t *testing.T) *segment.Client {
	c, err := segment.New(segment.Config{WriteKey: "wk", Endpoint: o.URL, MaxAttempts: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	require.NoError(t, err)
	return c
}

// identifiedUsers are the users Segment received an identify for.
func identifiedUsers(fake *segmenttest.Server) map[string]bool {
	got := map[string]bool{}
	for _, m := range identifies(fake) {
		got[m.UserID] = true
	}
	return got
}

// segmentDownPastTheRetries posts, for each of users, a page view and an identify
// while Segment is down, and waits until the stream has given up on their pushes.
func segmentDownPastTheRetries(t *testing.T, e *env, seg *outage, r *restartable, users int) {
	seg.down.Store(true)
	for i := range users {
		anon, user := fmt.Sprintf("a%d", i), fmt.Sprintf("u%d", i)
		e.page("p"+anon, anon, 0, "https://acme.io/", "https://www.google.com/")
		e.identify("i"+anon, anon, user, time.Minute)
	}
	e.settle()
	b, err := os.ReadFile(server.FailureLog(r.dataDir))
	require.NoError(t, err)
	require.NotEmpty(t, b, "the pushes were given up on")
	assert.Empty(t, identifies(seg.fake))
}

func TestSegmentDownPastTheRetriesThenRedrive(t *testing.T) {
	seg := newOutage(t)
	r := newRestartable(t, nil, stream.EmulatorOptions{Backoff: time.Millisecond, MaxAttempts: 2, Redrive: time.Hour})
	r.sender = seg.client(t)
	e := r.start()
	const users = 5
	segmentDownPastTheRetries(t, e, seg, r, users)

	res, err := server.Redrive(context.Background(), r.options())
	require.NoError(t, err)
	assert.Zero(t, res.Redriven, "still down")
	assert.Equal(t, res.Records, res.Failed)

	seg.down.Store(false)
	res, err = server.Redrive(context.Background(), r.options())
	require.NoError(t, err)
	assert.Equal(t, res.Records, res.Redriven)
	assert.Zero(t, res.Failed)
	got := identifiedUsers(seg.fake)
	for i := range users {
		assert.True(t, got[fmt.Sprintf("u%d", i)], "u%d's attribution reached Segment", i)
	}
	b, err := os.ReadFile(server.FailureLog(r.dataDir))
	require.NoError(t, err)
	assert.Empty(t, b)

	sent := len(seg.fake.Messages())
	res, err = server.Redrive(context.Background(), r.options())
	require.NoError(t, err)
	assert.Zero(t, res.Records, "a second redrive finds nothing to do")
	assert.Len(t, seg.fake.Messages(), sent)
}

func TestServeRedrivesItsFailuresOnItsOwnOnceSegmentIsBack(t *testing.T) {
	seg := newOutage(t)
	r := newRestartable(t, nil, stream.EmulatorOptions{Backoff: time.Millisecond, MaxAttempts: 2,
		Redrive: 20 * time.Millisecond, RedriveMax: 100 * time.Millisecond})
	r.sender = seg.client(t)
	e := r.start()
	const users = 5
	segmentDownPastTheRetries(t, e, seg, r, users)

	seg.down.Store(false)
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(server.FailureLog(r.dataDir))
		return err == nil && len(b) == 0 && len(identifiedUsers(seg.fake)) == users
	}, 20*time.Second, 20*time.Millisecond, "every user's attribution sent, the failure log empty")
}
