package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/dbtest"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/store"
	"github.com/attribution-dev/attribution/internal/stream"
)

// holdingProxy stands between the stack and dynalite. While hold is set, it forwards a
// PutItem, so DynamoDB applies it, and then holds the answer for hold, past the caller's
// patience: the write happened, its answer never arrived.
type holdingProxy struct {
	hold atomic.Int64 // nanoseconds
	held atomic.Int32
}

func (p *holdingProxy) start(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		d := time.Duration(p.hold.Load())
		if d > 0 && strings.HasSuffix(resp.Request.Header.Get("X-Amz-Target"), ".PutItem") {
			p.held.Add(1)
			time.Sleep(d)
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestAPutItemWhoseAnswerIsLostStillBecomesATouch(t *testing.T) {
	direct, tables := dbtest.New(t)
	proxy := &holdingProxy{}
	db, err := store.NewClient(context.Background(), store.ClientOptions{Region: "us-east-1", Endpoint: proxy.start(t, dbtest.Endpoint(t))})
	require.NoError(t, err)
	stack, err := server.New(server.Options{
		Config: testConfig(t, tables), DB: db, DataDir: t.TempDir(), Log: quietLog(),
		Stream: stream.EmulatorOptions{Backoff: 10 * time.Millisecond},
	})
	require.NoError(t, err)
	srv := httptest.NewServer(stack.Handler)
	t.Cleanup(func() { srv.Close(); closeStream(stack) })

	body, err := json.Marshal(map[string]any{
		"type": "page", "messageId": "lost-1", "anonymousId": "visitor-lost",
		"timestamp":  base.Format(time.RFC3339Nano),
		"properties": map[string]any{"url": "https://acme.io/", "referrer": "https://www.google.com/"},
	})
	require.NoError(t, err)

	// Segment gives up after 5 s; this client after 500 ms, while the answer is held.
	proxy.hold.Store(int64(2 * time.Second))
	impatient := &http.Client{Timeout: 500 * time.Millisecond}
	_, err = impatient.Post(srv.URL+"/events", "application/json", bytes.NewReader(body))
	require.Error(t, err, "no answer within the client's timeout")
	require.EqualValues(t, 1, proxy.held.Load())
	events := store.NewEvents(direct, tables.Events)
	require.Eventually(t, func() bool {
		_, err := events.Item(context.Background(), "lost-1")
		return err == nil
	}, 5*time.Second, 50*time.Millisecond, "DynamoDB applied the write")

	// Segment's retry: a duplicate, which must still reach the consumers.
	proxy.hold.Store(0)
	resp, err := http.Post(srv.URL+"/events", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(answer))
	assert.Contains(t, string(answer), `"duplicates":1`)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, stack.Stream.Idle(ctx))
	touches, err := store.NewTouches(direct, tables.Touches).ByVisitor(ctx, "visitor-lost")
	require.NoError(t, err)
	require.Len(t, touches, 1, "the stored page view has its touch")
	assert.Equal(t, "lost-1", touches[0].MessageID)

	// Replaying it changes nothing: republishing is idempotent.
	resp, err = http.Post(srv.URL+"/events", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.NoError(t, stack.Stream.Idle(ctx))
	touches, err = store.NewTouches(direct, tables.Touches).ByVisitor(ctx, "visitor-lost")
	require.NoError(t, err)
	assert.Len(t, touches, 1)
}
