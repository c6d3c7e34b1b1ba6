package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

// get requests path with x-api-key when key is not empty and decodes the JSON answer.
func (e *env) get(path, key string) (int, map[string]any) {
	e.t.Helper()
	return call(e.t, http.MethodGet, e.url+path, key)
}

// call sends a bodiless request with x-api-key when key is not empty and decodes the
// JSON answer.
func call(t *testing.T, method, url, key string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return resp.StatusCode, out
}

func withSegment(fake *segmenttest.Server, apiKey string) func(*config.Config) {
	return func(c *config.Config) {
		c.SegmentWriteKey, c.SegmentEndpoint, c.APIKey = "wk", fake.URL, apiKey
	}
}

func TestTriggerRoutesRequireTheAPIKey(t *testing.T) {
	fake := segmenttest.NewServer(t, "wk")
	e := newEnv(t, withSegment(fake, "k-123"))
	require.NoError(t, e.store.touches.Put(context.Background(), attribution.Touch{
		MessageID: "p1", AnonymousID: "anon-1", UserID: "u-1", Timestamp: base,
		Description: source.Description{Referrer: source.Referrer{Type: source.TypeDirect}},
	}))
	for _, path := range []string{"/segment/identify/user/u-1", "/segment/track/user/u-1", "/segment/track/anonymous/anon-1"} {
		t.Run(path, func(t *testing.T) {
			status, out := e.get(path, "")
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Equal(t, "missing x-api-key header", out["error"])
			status, _ = e.get(path, "k-124")
			assert.Equal(t, http.StatusUnauthorized, status)
			status, out = e.get(path, "k-123")
			assert.Equal(t, http.StatusOK, status, out)
		})
	}
	assert.Len(t, fake.Messages(), 3, "only the authorised calls sent anything")
}

func TestPageEventsReachSegmentThroughTheTrigger(t *testing.T) {
	fake := segmenttest.NewServer(t, "wk")
	e := newEnv(t, withSegment(fake, ""))
	e.page("p1", "visitor-1", 0, "https://acme.io/", "https://www.google.com/")
	e.settle()
	e.page("p2", "visitor-1", 3*time.Hour, "https://acme.io/?utm_source=newsletter&utm_medium=email", "")
	e.settle()

	status, out := e.get("/segment/track/anonymous/visitor-1", "")
	require.Equal(t, http.StatusOK, status, out)
	got := fake.Messages()
	require.Len(t, got, 2)
	assert.Equal(t, "search", got[0].Properties["referrer_type"])
	assert.Equal(t, "newsletter", got[1].Properties["campaign_source"])
	assert.Equal(t, base.Add(3*time.Hour).Format(time.RFC3339), got[1].Timestamp)
}

func TestTriggerPathIDsAreDecodedOnce(t *testing.T) {
	fake := segmenttest.NewServer(t, "wk")
	e := newEnv(t, withSegment(fake, ""))
	for _, id := range []string{"ann+1@example.com", "team/a b", "x%41"} {
		t.Run(id, func(t *testing.T) {
			require.NoError(t, e.store.touches.Put(context.Background(), attribution.Touch{
				MessageID: "p-" + id, UserID: id, Timestamp: base,
				Description: source.Description{Referrer: source.Referrer{Type: source.TypeDirect}},
			}))
			before := len(fake.Messages())
			status, out := e.get("/segment/identify/user/"+url.PathEscape(id), "")
			require.Equal(t, http.StatusOK, status, out)
			assert.Equal(t, id, out["userId"])
			got := fake.Messages()[before:]
			require.Len(t, got, 1)
			assert.Equal(t, id, got[0].UserID)
		})
	}
}

func TestTriggerWithoutWriteKeyWritesTheOutboxUnderDataDir(t *testing.T) {
	dataDir := t.TempDir()
	l := launch(t, dataDir, nil)
	require.NoError(t, store.NewTouches(l.db, l.tables.Touches).Put(context.Background(), attribution.Touch{
		MessageID: "p1", UserID: "u-1", Timestamp: base,
		Description: source.Description{Referrer: source.Referrer{Type: source.TypeDirect}},
	}))

	resp, err := http.Get(l.url + "/segment/identify/user/u-1")
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		DryRun bool `json:"dryRun"`
		Sent   []struct {
			MessageID string `json:"messageId"`
		} `json:"sent"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, out.DryRun)
	require.Len(t, out.Sent, 1)
	b, err := os.ReadFile(filepath.Join(dataDir, "segment-outbox.jsonl"))
	require.NoError(t, err)
	assert.Contains(t, string(b), out.Sent[0].MessageID)
}
