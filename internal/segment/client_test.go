package segment

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
)

func TestSendRetriesWithoutLossOrDuplicates(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	fake.FailNext(1, http.StatusTooManyRequests, "1")
	fake.FailNext(1, http.StatusInternalServerError, "")
	c, slept := testClient(t, Config{WriteKey: "key", Endpoint: fake.URL})

	msgs := tracks(50)
	results := c.Send(context.Background(), msgs)

	must(t, Err(results))
	for i, r := range results {
		equal(t, "result order", r.MessageID, msgs[i].MessageID)
		equal(t, "attempts", r.Attempts, 3)
		equal(t, "status", r.StatusCode, 200)
	}
	equal(t, "unique received", len(fake.UniqueMessageIDs()), 50)
	equal(t, "received", len(fake.Messages()), 50)
	equal(t, "duplicates", fake.Duplicates(), 0)
	waits := slept.all()
	equal(t, "waits", len(waits), 2)
	equal(t, "first wait honours Retry-After", waits[0], time.Second)
}

func TestSendRetriesNetworkErrors(t *testing.T) {
	// A listener closed at once: connections are refused, which is a network error.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, slept := testClient(t, Config{WriteKey: "key", Endpoint: url, MaxAttempts: 3})

	results := c.Send(context.Background(), tracks(2))
	for _, r := range results {
		equal(t, "sent", r.Sent, false)
		equal(t, "attempts", r.Attempts, 3)
		equal(t, "status", r.StatusCode, 0)
	}
	equal(t, "waits", len(slept.all()), 2)
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
		equal(t, fmt.Sprintf("message %d sent", i), r.Sent, wantSent[i])
		if wantSent[i] {
			continue
		}
		equal(t, fmt.Sprintf("message %d batch", i), r.Batch, -1)
		if !errors.Is(r.Err, ErrInvalidMessage) {
			t.Errorf("message %d: error %v is not ErrInvalidMessage", i, r.Err)
		}
		if id := msgs[i].MessageID; id != "" && !strings.Contains(r.Err.Error(), id) {
			t.Errorf("message %d: error %q does not name messageId", i, r.Err)
		}
	}
	equal(t, "received", len(fake.Messages()), 3)
	equal(t, "requests", len(fake.Requests()), 1)
}

func TestSendDoesNotRetry4xx(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	fake.FailNext(1, http.StatusBadRequest, "")
	c, slept := testClient(t, Config{WriteKey: "key", Endpoint: fake.URL})

	results := c.Send(context.Background(), tracks(10))
	for _, r := range results {
		equal(t, "sent", r.Sent, false)
		equal(t, "attempts", r.Attempts, 1)
		equal(t, "status", r.StatusCode, 400)
		var se *StatusError
		if !errors.As(r.Err, &se) {
			t.Fatalf("error %v is not a *StatusError", r.Err)
		}
		if !strings.Contains(se.Body, "scripted failure") {
			t.Errorf("body snippet %q lacks Segment's message", se.Body)
		}
	}
	equal(t, "requests", len(fake.Requests()), 1)
	equal(t, "waits", len(slept.all()), 0)
}

func TestSendGivesUpBeforeAWaitOutlivesTheDeadline(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	fake.FailNext(10, http.StatusServiceUnavailable, "30")
	c, slept := testClient(t, Config{WriteKey: "key", Endpoint: fake.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	start := time.Now()
	results := c.Send(ctx, tracks(3))
	if d := time.Since(start); d > time.Second {
		t.Errorf("Send took %s", d)
	}
	for _, r := range results {
		equal(t, "sent", r.Sent, false)
		equal(t, "attempts", r.Attempts, 1)
		equal(t, "status", r.StatusCode, 503)
		if !errors.Is(r.Err, ErrRetryDeadline) {
			t.Errorf("error %v is not ErrRetryDeadline", r.Err)
		}
	}
	equal(t, "waits", len(slept.all()), 0)
}

func TestSendStopsWhenTheDeadlinePassesDuringBackoff(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	fake.FailNext(1_000, http.StatusInternalServerError, "")
	// Real sleep: the deadline has to pass while the client waits.
	c, err := New(Config{WriteKey: "key", Endpoint: fake.URL, MaxAttempts: 1_000,
		MinBackoff: 40 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Rand: func() float64 { return 0.999 }})
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	start := time.Now()
	results := c.Send(ctx, tracks(3))
	if d := time.Since(start); d > time.Second {
		t.Errorf("Send took %s, deadline was 300ms", d)
	}
	for _, r := range results {
		equal(t, "sent", r.Sent, false)
		var se *StatusError
		if !errors.As(r.Err, &se) || se.StatusCode != 500 {
			t.Errorf("error %v does not carry the last answer", r.Err)
		}
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
			equal(t, "wait", parseRetryAfter(tt.in, testNow), tt.want)
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
			equal(t, "sent", results[0].Sent, tt.sent)
			if tt.sent {
				waits := slept.all()
				equal(t, "waits", len(waits), 1)
				equal(t, "wait", waits[0], tt.want)
			}
		})
	}
}

func TestBackoffIsJitteredExponential(t *testing.T) {
	c, _ := testClient(t, Config{WriteKey: "key", MinBackoff: 100 * time.Millisecond,
		MaxBackoff: time.Second, Rand: func() float64 { return 0.5 }})
	for attempt, want := range map[int]time.Duration{1: 50 * time.Millisecond, 2: 100 * time.Millisecond,
		3: 200 * time.Millisecond, 5: 500 * time.Millisecond, 60: 500 * time.Millisecond} {
		equal(t, fmt.Sprintf("backoff(%d)", attempt), c.backoff(attempt), want)
	}
}

func TestDryRunWritesExactLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "segment-outbox.jsonl")
	c, _ := testClient(t, Config{OutboxPath: path})
	equal(t, "dry run", c.DryRun(), true)

	msgs := []Message{
		Identify("id-1", "user-1", map[string]any{"source_first_url": "https://example.com/?a=1&b=2"}, testNow),
		Track("tr-1", "", "anon-1", "Source Identified", map[string]any{"referrer_type": "search"}, testNow),
	}
	for _, r := range c.Send(context.Background(), msgs) {
		equal(t, "sent", r.Sent, true)
		equal(t, "dry-run flag", r.DryRun, true)
	}
	got, err := os.ReadFile(path)
	must(t, err)
	want := `{"batch":[` +
		`{"type":"identify","messageId":"id-1","userId":"user-1","traits":{"source_first_url":"https://example.com/?a=1&b=2"},"timestamp":"2026-03-04T05:06:07.89Z"},` +
		`{"type":"track","messageId":"tr-1","anonymousId":"anon-1","event":"Source Identified","properties":{"referrer_type":"search"},"timestamp":"2026-03-04T05:06:07.89Z"}` +
		`],"sentAt":"2026-03-04T05:06:07.890Z"}` + "\n"
	equal(t, "outbox", string(got), want)
}

func TestDryRunIsSafeUnderConcurrency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outbox.jsonl")
	c, _ := testClient(t, Config{OutboxPath: path, Concurrency: 8})

	// 12,000 messages make 5 requests of up to 2,500, written concurrently.
	results := c.Send(context.Background(), tracks(12_000))
	must(t, Err(results))
	data, err := os.ReadFile(path)
	must(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	equal(t, "lines", len(lines), 5)
	total := 0
	for i, line := range lines {
		var body struct {
			Batch []json.RawMessage `json:"batch"`
		}
		if err := json.Unmarshal([]byte(line), &body); err != nil {
			t.Fatalf("line %d is not JSON: %v", i, err)
		}
		total += len(body.Batch)
	}
	equal(t, "messages in outbox", total, 12_000)
}

func TestRequestShape(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	// Segment's docs write the endpoint with /v1; both forms must reach /v1/batch.
	for _, endpoint := range []string{srv.URL, srv.URL + "/", srv.URL + "/v1", srv.URL + "/v1/"} {
		c, _ := testClient(t, Config{WriteKey: "wk_123", Endpoint: endpoint})
		must(t, Err(c.Send(context.Background(), tracks(1))))
		equal(t, "method", got.Method, http.MethodPost)
		equal(t, "path", got.URL.Path, "/v1/batch")
		equal(t, "Authorization", got.Header.Get("Authorization"),
			"Basic "+base64.StdEncoding.EncodeToString([]byte("wk_123:")))
		equal(t, "Content-Type", got.Header.Get("Content-Type"), "application/json")
		equal(t, "User-Agent names the product", strings.HasPrefix(got.UserAgent(), "attribution/"), true)
	}
}

func TestWriteKeyNeverInErrors(t *testing.T) {
	const key = "sekret-write-key"
	fake := segmenttest.NewServer(t, "another-key")
	c, _ := testClient(t, Config{WriteKey: key, Endpoint: fake.URL})
	results := c.Send(context.Background(), tracks(2))
	for _, r := range results {
		equal(t, "status", r.StatusCode, http.StatusUnauthorized)
		equal(t, "key in error", strings.Contains(r.Err.Error(), key), false)
	}

	_, err := New(Config{WriteKey: key + " "})
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("config error %v: want an error without the key", err)
	}
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
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("error %v does not name %s", err, tt.field)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error %q echoes credentials", err)
			}
		})
	}
	c, err := New(Config{})
	must(t, err)
	equal(t, "default endpoint", c.batchURL, "https://api.segment.io/v1/batch")
	c, err = New(Config{Endpoint: EUEndpoint})
	must(t, err)
	equal(t, "EU endpoint", c.batchURL, "https://events.eu1.segmentapis.com/v1/batch")
}
