package segment

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
)

func TestSendRetriesWithoutLossOrDuplicates(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	fake.FailNext(1, http.StatusTooManyRequests, "1")
	fake.FailNext(1, http.StatusInternalServerError, "")
	c, slept := testClient(t, Config{WriteKey: "key", Endpoint: fake.URL})

	msgs := tracks(50)
	results := c.Send(context.Background(), msgs)

	require.NoError(t, Err(results))
	for i, r := range results {
		assert.Equal(t, msgs[i].MessageID, r.MessageID, "result order")
		assert.Equal(t, 3, r.Attempts, "attempts")
		assert.Equal(t, 200, r.StatusCode, "status")
	}
	assert.Len(t, fake.UniqueMessageIDs(), 50, "unique received")
	assert.Len(t, fake.Messages(), 50, "received")
	assert.Equal(t, 0, fake.Duplicates(), "duplicates")
	waits := slept.all()
	require.Len(t, waits, 2, "waits")
	assert.Equal(t, time.Second, waits[0], "first wait honours Retry-After")
}

func TestSendRetriesNetworkErrors(t *testing.T) {
	// A listener closed at once: connections are refused, which is a network error.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, slept := testClient(t, Config{WriteKey: "key", Endpoint: url, MaxAttempts: 3})

	results := c.Send(context.Background(), tracks(2))
	for _, r := range results {
		assert.False(t, r.Sent, "sent")
		assert.Equal(t, 3, r.Attempts, "attempts")
		assert.Equal(t, 0, r.StatusCode, "status")
	}
	assert.Len(t, slept.all(), 2, "waits")
}

func TestSendRefusesInvalidAndSendsTheRest(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	c, _ := testClient(t, Config{WriteKey: "key", Endpoint: fake.URL})

	big := Track("too-big", "u", "", "E", map[string]any{"blob": strings.Repeat("x", MaxMessageBytes)}, testNow)
	longID := strings.Repeat("i", MaxMessageIDLen)
	okID := strings.Repeat("k", MaxMessageIDLen-1)
	msgs := []Message{
		Track("a", "u", "", "E", nil, testNow),
		big,
		Track(longID, "u", "", "E", nil, testNow),
		Track(okID, "u", "", "E", nil, testNow),
		Track("", "u", "", "E", nil, testNow),
		Track("no-who", "", "", "E", nil, testNow),
		Track("no-event", "u", "", "", nil, testNow),
		{Type: "page", MessageID: "page", UserID: "u"},
		Identify("b", "u", map[string]any{"source_first_url": "https://example.com/"}, testNow),
	}
	results := c.Send(context.Background(), msgs)

	wantSent := map[int]bool{0: true, 3: true, 8: true}
	for i, r := range results {
		assert.Equal(t, wantSent[i], r.Sent, fmt.Sprintf("message %d sent", i))
		if wantSent[i] {
			continue
		}
		assert.Equal(t, -1, r.Batch, fmt.Sprintf("message %d batch", i))
		require.ErrorIs(t, r.Err, ErrInvalidMessage, "message %d", i)
		if id := msgs[i].MessageID; id != "" {
			assert.ErrorContains(t, r.Err, id, "the error names the messageId")
		}
	}
	assert.Len(t, fake.Messages(), 3, "received")
	assert.Len(t, fake.Requests(), 1, "requests")
}

func TestSendDoesNotRetry4xx(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	fake.FailNext(1, http.StatusBadRequest, "")
	c, slept := testClient(t, Config{WriteKey: "key", Endpoint: fake.URL})

	results := c.Send(context.Background(), tracks(10))
	for _, r := range results {
		assert.False(t, r.Sent, "sent")
		assert.Equal(t, 1, r.Attempts, "attempts")
		assert.Equal(t, 400, r.StatusCode, "status")
		var se *StatusError
		require.ErrorAs(t, r.Err, &se)
		assert.Contains(t, se.Body, "scripted failure", "the body snippet carries Segment's message")
	}
	assert.Len(t, fake.Requests(), 1, "requests")
	assert.Len(t, slept.all(), 0, "waits")
}

func TestSendGivesUpBeforeAWaitOutlivesTheDeadline(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	fake.FailNext(10, http.StatusServiceUnavailable, "30")
	c, slept := testClient(t, Config{WriteKey: "key", Endpoint: fake.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	start := time.Now()
	results := c.Send(ctx, tracks(3))
	assert.Less(t, time.Since(start), time.Second, "Send returns at once")
	for _, r := range results {
		assert.False(t, r.Sent, "sent")
		assert.Equal(t, 1, r.Attempts, "attempts")
		assert.Equal(t, 503, r.StatusCode, "status")
		assert.ErrorIs(t, r.Err, ErrRetryDeadline)
	}
	assert.Len(t, slept.all(), 0, "waits")
}

func TestSendStopsWhenTheDeadlinePassesDuringBackoff(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	fake.FailNext(1_000, http.StatusInternalServerError, "")
	// Real sleep: the deadline has to pass while the client waits.
	c, err := New(Config{WriteKey: "key", Endpoint: fake.URL, MaxAttempts: 1_000,
		MinBackoff: 40 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Rand: func() float64 { return 0.999 }})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	start := time.Now()
	results := c.Send(ctx, tracks(3))
	// Without the deadline, 1,000 attempts 40 ms apart would take 40 s; the margin is for
	// a loaded CI machine running the race detector.
	assert.Less(t, time.Since(start), 3*time.Second, "Send returns soon after the 300ms deadline")
	for _, r := range results {
		assert.False(t, r.Sent, "sent")
		var se *StatusError
		require.ErrorAs(t, r.Err, &se, "the error carries the last answer")
		assert.Equal(t, 500, se.StatusCode)
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 2 ", 2 * time.Second},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{testNow.Add(5 * time.Second).Format(http.TimeFormat), 4*time.Second + 110*time.Millisecond},
		{testNow.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999", 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, parseRetryAfter(tt.in, testNow), "wait")
		})
	}
}

func TestSendHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
		sent       bool
	}{
		{"seconds", "7", 7 * time.Second, true},
		{"HTTP date", testNow.Truncate(time.Second).Add(5 * time.Second).Format(http.TimeFormat), 4*time.Second + 110*time.Millisecond, true},
		{"longer than MaxRetryAfter", "3600", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := segmenttest.NewServer(t, "key")
			fake.FailNext(1, http.StatusTooManyRequests, tt.retryAfter)
			// Now is off the second, so the HTTP-date case checks the exact difference.
			now := testNow.Add(0)
			c, slept := testClient(t, Config{WriteKey: "key", Endpoint: fake.URL, Now: func() time.Time { return now }})
			results := c.Send(context.Background(), tracks(1))
			assert.Equal(t, tt.sent, results[0].Sent, "sent")
			if tt.sent {
				waits := slept.all()
				require.Len(t, waits, 1, "waits")
				assert.Equal(t, tt.want, waits[0], "wait")
			}
		})
	}
}

func TestBackoffIsJitteredExponential(t *testing.T) {
	c, _ := testClient(t, Config{WriteKey: "key", MinBackoff: 100 * time.Millisecond,
		MaxBackoff: time.Second, Rand: func() float64 { return 0.5 }})
	for attempt, want := range map[int]time.Duration{1: 50 * time.Millisecond, 2: 100 * time.Millisecond,
		3: 200 * time.Millisecond, 5: 500 * time.Millisecond, 60: 500 * time.Millisecond} {
		assert.Equal(t, want, c.backoff(attempt), fmt.Sprintf("backoff(%d)", attempt))
	}
}

func TestDryRunWritesExactLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "segment-outbox.jsonl")
	c, _ := testClient(t, Config{OutboxPath: path})
	assert.True(t, c.DryRun(), "dry run")

	msgs := []Message{
		Identify("id-1", "user-1", map[string]any{"source_first_url": "https://example.com/?a=1&b=2"}, testNow),
		Track("tr-1", "", "anon-1", "Source Identified", map[string]any{"referrer_type": "search"}, testNow),
	}
	for _, r := range c.Send(context.Background(), msgs) {
		assert.True(t, r.Sent, "sent")
		assert.True(t, r.DryRun, "dry-run flag")
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	want := `{"batch":[` +
		`{"type":"identify","messageId":"id-1","userId":"user-1","traits":{"source_first_url":"https://example.com/?a=1&b=2"},"timestamp":"2026-03-04T05:06:07.89Z"},` +
		`{"type":"track","messageId":"tr-1","anonymousId":"anon-1","event":"Source Identified","properties":{"referrer_type":"search"},"timestamp":"2026-03-04T05:06:07.89Z"}` +
		`],"sentAt":"2026-03-04T05:06:07.890Z"}` + "\n"
	assert.Equal(t, want, string(got), "outbox")
}

func TestDryRunIsSafeUnderConcurrency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	c, _ := testClient(t, Config{OutboxPath: path, Concurrency: 8})

	// 12,000 messages make 5 requests of up to 2,500, written concurrently.
	results := c.Send(context.Background(), tracks(12_000))
	require.NoError(t, Err(results))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	assert.Len(t, lines, 5, "lines")
	total := 0
	for i, line := range lines {
		var body struct {
			Batch []json.RawMessage `json:"batch"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &body), "line %d", i)
		total += len(body.Batch)
	}
	assert.Equal(t, 12_000, total, "messages in outbox")
}

func TestRequestShape(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	// Segment's docs write the endpoint with /v1; both forms must reach /v1/batch.
	for _, endpoint := range []string{srv.URL, srv.URL + "/", srv.URL + "/v1", srv.URL + "/v1/"} {
		c, _ := testClient(t, Config{WriteKey: "wk_123", Endpoint: endpoint})
		require.NoError(t, Err(c.Send(context.Background(), tracks(1))))
		got := <-got
		assert.Equal(t, http.MethodPost, got.Method, "method")
		assert.Equal(t, "/v1/batch", got.URL.Path, "path")
		assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("wk_123:")), got.Header.Get("Authorization"), "Authorization")
		assert.Equal(t, "application/json", got.Header.Get("Content-Type"), "Content-Type")
		assert.True(t, strings.HasPrefix(got.UserAgent(), "attribution/"), "User-Agent names the product")
	}
}

func TestWriteKeyNeverInErrors(t *testing.T) {
	const key = "sekret-write-key"
	fake := segmenttest.NewServer(t, "another-key")
	c, _ := testClient(t, Config{WriteKey: key, Endpoint: fake.URL})
	results := c.Send(context.Background(), tracks(2))
	for _, r := range results {
		assert.Equal(t, http.StatusUnauthorized, r.StatusCode, "status")
		assert.NotContains(t, r.Err.Error(), key)
	}

	_, err := New(Config{WriteKey: key + " "})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), key)
}

func TestConfigNamesTheBadField(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"endpoint scheme", Config{Endpoint: "ftp://api.segment.io"}, "Endpoint"},
		{"endpoint relative", Config{Endpoint: "api.segment.io"}, "Endpoint"},
		{"endpoint credentials", Config{Endpoint: "https://user:pw@api.segment.io"}, "Endpoint"},
		{"write key colon", Config{WriteKey: "a:b"}, "WriteKey"},
		{"attempts", Config{MaxAttempts: -1}, "MaxAttempts"},
		{"concurrency", Config{Concurrency: -2}, "Concurrency"},
		{"backoff order", Config{MinBackoff: time.Minute, MaxBackoff: time.Second}, "MaxBackoff"},
		{"retry-after", Config{MaxRetryAfter: -time.Second}, "MaxRetryAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			require.ErrorContains(t, err, tt.field)
			assert.NotContains(t, err.Error(), "pw@", "no credentials echoed")
		})
	}
	c, err := New(Config{})
	require.NoError(t, err)
	assert.Equal(t, "https://api.segment.io/v1/batch", c.batchURL, "default endpoint")
	c, err = New(Config{Endpoint: EUEndpoint})
	require.NoError(t, err)
	assert.Equal(t, "https://events.eu1.segmentapis.com/v1/batch", c.batchURL, "EU endpoint")
}

// When the deadline ends an attempt mid-request, the failure still carries what Segment
// last answered: "deadline exceeded" alone would hide that Segment was failing.
func TestDeadlineDuringARequestKeepsTheLastAnswer(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, `{"error":"overloaded"}`, http.StatusServiceUnavailable)
			return
		}
		select { // the second attempt outlives the caller's deadline
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()
	c, err := New(Config{WriteKey: "key", Endpoint: srv.URL, MaxAttempts: 5,
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	results := c.Send(ctx, tracks(1))
	require.Len(t, results, 1)
	r := results[0]
	assert.False(t, r.Sent)
	var se *StatusError
	require.ErrorAs(t, r.Err, &se, "the error carries the last answer: %v", r.Err)
	assert.Equal(t, http.StatusServiceUnavailable, se.StatusCode)
	assert.ErrorIs(t, r.Err, context.DeadlineExceeded)
	assert.Equal(t, http.StatusServiceUnavailable, r.StatusCode)
	assert.EqualValues(t, 2, calls.Load())
}
