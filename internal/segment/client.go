// Package segment sends identify and track calls to Segment's HTTP Tracking API
// (POST /v1/batch) synchronously: when Send returns, every message was either
// acknowledged by Segment or reported failed with the reason. Nothing is buffered in
// the background, because a Lambda is frozen as soon as its handler returns.
package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/attribution-dev/attribution/internal/backoff"
	"github.com/attribution-dev/attribution/internal/jsonl"
	"golang.org/x/sync/errgroup"
)

const (
	// DefaultEndpoint is Segment's US ingestion endpoint.
	DefaultEndpoint = "https://api.segment.io"
	// EUEndpoint is the ingestion endpoint of EU workspaces (Segment's "Regional
	// Segment" guide: Dublin, events.eu1.segmentapis.com/v1). Events an EU workspace's
	// write key sends to DefaultEndpoint are answered 200 and never appear: there is no
	// error to notice, so the endpoint must be configured, not discovered.
	EUEndpoint = "https://events.eu1.segmentapis.com"
	// DefaultOutboxPath is where a client without a write key writes its batches.
	DefaultOutboxPath = ".data/segment-outbox.jsonl"

	userAgent = "attribution/1 (+https://github.com/attribution-dev/attribution)"
	batchPath = "/v1/batch"

	// bodySnippetBytes is how much of Segment's answer a failure reports: enough for
	// its {"success":false,"message":...}, not enough to flood logs.
	bodySnippetBytes = 200
)

// ErrRetryDeadline reports that a batch was given up because the next wait would
// outlive the caller's context deadline: better to fail now, while the caller still
// has time to record the failure, than to be cut off in the middle of the wait.
var ErrRetryDeadline = errors.New("next retry would outlive the context deadline")

// Config configures a Client. The zero value of every field means its default.
type Config struct {
	// WriteKey is the source's write key. Empty means dry run: batches are appended to
	// OutboxPath instead of being sent, which is how the stack runs locally.
	WriteKey string
	// Endpoint is the ingestion base URL, DefaultEndpoint when empty. EU workspaces
	// must set EUEndpoint ("https://events.eu1.segmentapis.com"): events sent to the
	// US endpoint with an EU write key vanish without an error. A trailing "/v1", as
	// Segment's docs write it, is accepted.
	Endpoint string
	// OutboxPath is the dry-run file, DefaultOutboxPath when empty. Its directory is
	// created when needed.
	OutboxPath string
	// HTTPClient sends the requests; a client with a 30 s timeout when nil. The
	// context's deadline applies as well.
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts per request, first one included (default 5).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the exponential backoff between attempts
	// (defaults 100 ms and 10 s); the actual wait is drawn uniformly below the bound
	// ("full jitter"), so concurrent senders do not retry in lockstep.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter is the longest Retry-After the client waits for (default 1 min);
	// a longer one fails the request rather than holding the caller.
	MaxRetryAfter time.Duration
	// Concurrency bounds the requests in flight within one Send (default 4).
	Concurrency int
	// Logger receives one line per retry; discarded when nil. It never sees the key.
	Logger *slog.Logger

	// Now stamps sentAt and interprets HTTP-date Retry-After values (time.Now when
	// nil). Context deadlines are always real time.
	Now func() time.Time
	// Sleep waits between attempts and returns early with the context's error
	// (a timer when nil).
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a number in [0, 1) for the backoff jitter (math/rand/v2 when nil).
	Rand func() float64
}

func (c Config) withDefaults() Config {
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if c.OutboxPath == "" {
		c.OutboxPath = DefaultOutboxPath
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 5
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = time.Minute
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = backoff.Sleep
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// validate names every bad field. It never echoes the write key.
func (c Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("segment config: %s: "+format, append([]any{field}, args...)...))
	}
	if strings.TrimSpace(c.WriteKey) != c.WriteKey {
		bad("WriteKey", "has leading or trailing white space")
	}
	if strings.ContainsAny(c.WriteKey, ":\r\n") {
		// A colon would split the Basic credentials into the wrong user and password.
		bad("WriteKey", "must not contain ':' or line breaks")
	}
	if u, err := url.Parse(c.Endpoint); err != nil {
		bad("Endpoint", "not a URL")
	} else {
		switch {
		case u.User != nil:
			// Not echoed: it holds credentials.
			bad("Endpoint", "must not carry credentials")
		case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
			bad("Endpoint", "%q is not an absolute http(s) URL", c.Endpoint)
		case u.RawQuery != "" || u.Fragment != "":
			bad("Endpoint", "%q must not have a query or fragment", c.Endpoint)
		}
	}
	if c.MaxAttempts < 0 {
		bad("MaxAttempts", "%d is negative", c.MaxAttempts)
	}
	if c.Concurrency < 0 {
		bad("Concurrency", "%d is negative", c.Concurrency)
	}
	if c.MinBackoff < 0 {
		bad("MinBackoff", "%s is negative", c.MinBackoff)
	}
	if c.MaxBackoff < c.MinBackoff {
		bad("MaxBackoff", "%s is below MinBackoff %s", c.MaxBackoff, c.MinBackoff)
	}
	if c.MaxRetryAfter < 0 {
		bad("MaxRetryAfter", "%s is negative", c.MaxRetryAfter)
	}
	return errors.Join(errs...)
}

// Client sends messages to Segment's batch endpoint. It is safe for concurrent use.
type Client struct {
	cfg      Config
	batchURL string
}

// New checks cfg and returns a client; the error names every bad field.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(strings.TrimRight(cfg.Endpoint, "/"), "/v1")
	return &Client{cfg: cfg, batchURL: base + batchPath}, nil
}

// DryRun reports whether the client writes to the outbox instead of sending.
func (c *Client) DryRun() bool { return c.cfg.WriteKey == "" }

// Result is what happened to one message.
type Result struct {
	MessageID string
	// Sent is true when Segment acknowledged the request holding the message with a
	// 2xx, or, in dry run, when the batch was written to the outbox.
	Sent bool
	// DryRun is true for every result of a client without a write key.
	DryRun bool
	// Batch is the index of the request that carried the message, -1 when the
	// message was refused before sending.
	Batch int
	// Attempts is how many times that request was made.
	Attempts int
	// StatusCode is Segment's last answer, 0 when there was none (refused, network
	// error, or dry run).
	StatusCode int
	// Err says why the message was not sent; nil when Sent. Refusals wrap
	// ErrInvalidMessage, answers from Segment a *StatusError.
	Err error
}

// StatusError is a non-2xx answer from Segment.
type StatusError struct {
	StatusCode int
	// Body is the start of Segment's answer, for the operator reading the failure.
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("segment answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// Sender delivers messages synchronously and reports per message: what the /segment
// routes, real-time pushes and backfills need of a Client, and what their tests fake.
type Sender interface {
	Send(ctx context.Context, msgs []Message) []Result
}

var _ Sender = (*Client)(nil)

// Send delivers msgs and returns one Result per message, in the order of msgs.
//
// Invalid messages (see ErrInvalidMessage) are refused and the rest are still sent.
// The others are packed into as few requests as the limits allow (see pack), sent
// with at most Config.Concurrency in flight, and retried on 429, 5xx and network
// errors with backoff, within ctx's deadline. Other 4xx answers are final: retrying
// the same body cannot succeed.
func (c *Client) Send(ctx context.Context, msgs []Message) []Result {
	results := make([]Result, len(msgs))
	valid := make([]encoded, 0, len(msgs))
	for i, m := range msgs {
		results[i] = Result{MessageID: m.MessageID, Batch: -1, DryRun: c.DryRun()}
		raw, err := encode(m)
		if err != nil {
			results[i].Err = fmt.Errorf("message %d: %w", i, err)
			continue
		}
		key := "u:" + m.UserID
		if m.UserID == "" {
			key = "a:" + m.AnonymousID
		}
		valid = append(valid, encoded{index: i, id: m.MessageID, key: key, raw: raw})
	}

	var g errgroup.Group
	g.SetLimit(c.cfg.Concurrency)
	for bi, batch := range pack(valid) {
		g.Go(func() error {
			out := c.sendBatch(ctx, bi, batch)
			// Each batch owns distinct indexes, so these writes do not race.
			for _, m := range batch {
				results[m.index] = Result{
					MessageID: m.id, Sent: out.err == nil, DryRun: c.DryRun(), Batch: bi,
					Attempts: out.attempts, StatusCode: out.status, Err: out.err,
				}
			}
			return nil // each batch's outcome is in its results
		})
	}
	_ = g.Wait()
	return results
}

type outcome struct {
	attempts int
	status   int
	err      error
}

func (c *Client) sendBatch(ctx context.Context, bi int, batch []encoded) outcome {
	if c.DryRun() {
		if err := jsonl.Append(c.cfg.OutboxPath, buildBody(batch, c.cfg.Now())); err != nil {
			return outcome{err: fmt.Errorf("send batch %d (dry run): %w", bi, err)}
		}
		return outcome{attempts: 1}
	}

	var status int
	var lastErr error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return outcome{attempts: attempt - 1, status: status,
				err: fmt.Errorf("send batch %d: %w", bi, errors.Join(err, lastErr))}
		}
		// sentAt is rebuilt per attempt: Segment uses it to correct client clock skew.
		got, retryAfter, err := c.post(ctx, buildBody(batch, c.cfg.Now()))
		if err == nil {
			return outcome{attempts: attempt, status: got}
		}
		if got == 0 && ctx.Err() != nil && lastErr != nil {
			// The deadline ended this attempt mid-request; what Segment last answered
			// (status and error) is still the most useful reason to report.
			err = errors.Join(err, lastErr)
		} else {
			status = got
		}
		lastErr = err
		fail := func(format string, args ...any) outcome {
			return outcome{attempts: attempt, status: status,
				err: fmt.Errorf("send batch %d: attempt %d: "+format, append([]any{bi, attempt}, args...)...)}
		}
		if !retryable(ctx, got) {
			return fail("%w", lastErr)
		}
		if attempt >= c.cfg.MaxAttempts {
			return fail("giving up after %d attempts: %w", attempt, lastErr)
		}
		wait := c.backoff(attempt)
		if retryAfter > c.cfg.MaxRetryAfter {
			return fail("Retry-After %s exceeds %s: %w", retryAfter, c.cfg.MaxRetryAfter, lastErr)
		}
		wait = max(wait, retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return fail("waiting %s: %w: %w", wait, ErrRetryDeadline, lastErr)
		}
		c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "segment batch retry",
			slog.Int("batch", bi), slog.Int("attempt", attempt), slog.Int("status", status),
			slog.Duration("wait", wait), slog.String("error", lastErr.Error()))
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return fail("waiting %s: %w", wait, errors.Join(err, lastErr))
		}
	}
}

// retryable: 429 and 5xx may succeed later; a network error (status 0) too, unless it
// came from the caller's context ending. Other answers will not change on a retry.
func retryable(ctx context.Context, status int) bool {
	switch {
	case status == 0:
		return ctx.Err() == nil
	case status == http.StatusTooManyRequests, status >= 500:
		return true
	default:
		return false
	}
}

// backoff is the wait before retry number attempt: uniform in
// [0, min(MaxBackoff, MinBackoff·2^(attempt-1))).
func (c *Client) backoff(attempt int) time.Duration {
	return backoff.Delay(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff, c.cfg.Rand())
}

// post makes one request. A nil error means Segment acknowledged the whole batch.
func (c *Client) post(ctx context.Context, body []byte) (status int, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.batchURL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, fmt.Errorf("build request: %w", err)
	}
	req.SetBasicAuth(c.cfg.WriteKey, "")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// *url.Error names the URL, which never holds the key (validate refuses
		// credentials in Endpoint; the key travels in the Authorization header).
		return 0, 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, bodySnippetBytes))
	// Drain a little more so the connection can be reused; a huge body is not worth it.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.Now()),
		&StatusError{StatusCode: resp.StatusCode, Body: cleanSnippet(snippet)}
}

// cleanSnippet keeps the snippet printable: the cut may fall inside a UTF-8 sequence.
func cleanSnippet(b []byte) string {
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
}

// parseRetryAfter reads delay-seconds or an HTTP-date; anything else means no hint.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second) // keeps the Duration from overflowing
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func buildBody(batch []encoded, sentAt time.Time) []byte {
	b := make([]byte, 0, bodySize(batch))
	b = append(b, bodyPrefix...)
	for i, m := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.raw...)
	}
	b = append(b, bodySentAt...)
	b = sentAt.UTC().AppendFormat(b, sentAtLayout)
	return append(b, bodySuffix...)
}
