// Package ingest is the Segment webhook: POST /events verifies the signature, validates
// each event and stores it once per messageId.
package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/httpapi"
	"github.com/attribution-dev/attribution/internal/store"
)

// MaxBody is the largest body accepted: a full 4,000-event Webhooks (Actions) batch
// fits well within it. (A deployed Lambda also has a 6 MB synchronous payload limit.)
const MaxBody = 8 << 20

// DefaultConcurrency is how many writes are in flight for one batch: enough to store
// 4,000 events well within Segment's 5-second timeout.
const DefaultConcurrency = 64

// Store keeps events. Put reports whether it stored ev (false: already stored).
type Store interface {
	Put(ctx context.Context, ev event.Event) (bool, error)
	// CheckSize refuses (store.ErrItemTooLarge) an event too large to store.
	CheckSize(ev event.Event) error
}

// Syncer is a Store whose Puts become durable in one step for a whole body (the local
// stack's stream log: one fsync for a batch rather than one per event). The webhook
// calls Sync after its Puts and answers 2xx only once it returned nil.
type Syncer interface {
	Sync(ctx context.Context) error
}

// Suppressor says which events belong to erased people (store.Tombstones is one). It
// is asked once per body, about all of its events.
type Suppressor interface {
	EventsErased(ctx context.Context, evs []event.Event) ([]bool, error)
}

// Handler serves POST /events.
type Handler struct {
	Store Store
	// Suppressor, when set, drops the events of erased people: they are acknowledged
	// (so Segment stops retrying), counted as suppressed and never stored.
	Suppressor Suppressor
	// Secret, when set, is SEGMENT_SHARED_SECRET: the body's HMAC-SHA1 must match X-Signature.
	Secret string
	// Blocked are the ids that never identify anyone (nil: the built-in list): dropped
	// from events as if not sent, and an event left with no id is refused.
	Blocked     *event.Blocklist
	Concurrency int
	Log         *slog.Logger
}

// Response is what POST /events answers.
type Response struct {
	Received     int      `json:"received"`
	Stored       int      `json:"stored"`
	Duplicates   int      `json:"duplicates"`
	Suppressed   int      `json:"suppressed"`
	StoredIDs    []string `json:"storedIds"`
	DuplicateIDs []string `json:"duplicateIds"`
	// SuppressedIDs are the messageIds of events of erased people: acknowledged, not stored.
	SuppressedIDs []string `json:"suppressedIds,omitempty"`
	// BlockedIDs counts the ids dropped as blocked (placeholders such as "undefined"),
	// in stored and refused events alike.
	BlockedIDs int        `json:"blockedIds"`
	Rejected   []Rejected `json:"rejected,omitempty"`
}

// Rejected is an event of a batch that was refused, and why.
type Rejected struct {
	Index int    `json:"index"`
	Error string `json:"error"`
}

// Handle is the Lambda handler.
func (h *Handler) Handle(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	// Check the size before decoding anything: base64 inflates by 4/3.
	if len(req.Body) > MaxBody*4/3+4 || (!req.IsBase64Encoded && len(req.Body) > MaxBody) {
		return tooLarge(), nil
	}
	body, err := httpapi.Body(req)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, "body is not valid base64"), nil
	}
	if len(body) > MaxBody {
		return tooLarge(), nil
	}
	if h.Secret != "" {
		if msg := verifySignature(body, httpapi.Header(req, "x-signature"), h.Secret); msg != "" {
			return httpapi.Error(http.StatusUnauthorized, msg), nil
		}
	}
	// The signature covers the bytes as sent; the size limit applies to what they decode to.
	if body, err = decode(httpapi.Header(req, "content-encoding"), body); err != nil {
		switch {
		case errors.Is(err, errTooLarge):
			return tooLarge(), nil
		case errors.Is(err, errUnsupportedEncoding):
			return httpapi.Error(http.StatusUnsupportedMediaType, err.Error()), nil
		}
		return httpapi.Error(http.StatusBadRequest, err.Error()), nil
	}
	parsed, err := h.Blocked.ParseBody(body)
	if err != nil {
		return httpapi.Error(http.StatusBadRequest, err.Error()), nil
	}

	resp := Response{Received: len(parsed.Items)}
	var valid []event.Event
	for _, it := range parsed.Items {
		resp.BlockedIDs += len(it.Blocked)
		err := it.Err
		if err == nil {
			// Checked here, not left to the write: DynamoDB would refuse it on every
			// retry, and a 503 would have Segment retry the valid events beside it too.
			err = h.Store.CheckSize(it.Event)
		}
		if err != nil {
			resp.Rejected = append(resp.Rejected, Rejected{Index: it.Index, Error: err.Error()})
			if !parsed.Batch && errors.Is(err, store.ErrItemTooLarge) {
				return httpapi.Error(http.StatusRequestEntityTooLarge, err.Error()), nil
			}
			continue
		}
		valid = append(valid, it.Event)
	}
	if len(valid) == 0 {
		if !parsed.Batch {
			return httpapi.Error(http.StatusBadRequest, resp.Rejected[0].Error), nil
		}
		return httpapi.JSON(http.StatusBadRequest, struct {
			Error    string     `json:"error"`
			Rejected []Rejected `json:"rejected"`
		}{"no valid event in batch", resp.Rejected}), nil
	}

	if valid, err = h.suppress(ctx, valid, &resp); err != nil {
		// Fail closed: storing an erased person's event is worse than a retry.
		h.Log.ErrorContext(ctx, "check erased ids failed", "request_id", req.RequestContext.RequestID, "events", len(valid), "err", err)
		return httpapi.Error(http.StatusServiceUnavailable, "could not check events against erasures; retry later"), nil
	}
	stored, err := h.storeAll(ctx, valid)
	if err != nil {
		// Some events may be stored already; Segment's retry finds them as duplicates.
		h.Log.ErrorContext(ctx, "store events failed", "request_id", req.RequestContext.RequestID, "events", len(valid), "err", err)
		return httpapi.Error(http.StatusServiceUnavailable, "could not store events; retry later"), nil
	}
	resp.StoredIDs = make([]string, 0, len(valid))
	resp.DuplicateIDs = []string{}
	for i, ev := range valid {
		if stored[i] {
			resp.StoredIDs = append(resp.StoredIDs, ev.MessageID)
		} else {
			resp.DuplicateIDs = append(resp.DuplicateIDs, ev.MessageID)
		}
	}
	resp.Stored, resp.Duplicates = len(resp.StoredIDs), len(resp.DuplicateIDs)
	h.Log.InfoContext(ctx, "events received", "request_id", req.RequestContext.RequestID,
		"received", resp.Received, "stored", resp.Stored, "duplicates", resp.Duplicates, "suppressed", resp.Suppressed,
		"blocked_ids", resp.BlockedIDs, "rejected", len(resp.Rejected))
	return httpapi.JSON(http.StatusOK, resp), nil
}

// suppress drops the events of erased people from evs, recording them in resp.
func (h *Handler) suppress(ctx context.Context, evs []event.Event, resp *Response) ([]event.Event, error) {
	if h.Suppressor == nil {
		return evs, nil
	}
	erased, err := h.Suppressor.EventsErased(ctx, evs)
	if err != nil {
		return evs, fmt.Errorf("suppress: %w", err)
	}
	kept := evs[:0:0]
	for i, ev := range evs {
		if erased[i] {
			resp.SuppressedIDs = append(resp.SuppressedIDs, ev.MessageID)
			continue
		}
		kept = append(kept, ev)
	}
	resp.Suppressed = len(resp.SuppressedIDs)
	return kept, nil
}

// storeAll writes events with bounded concurrency. Any failure fails the whole call, so
// the sender retries; the events that did get stored dedupe on that retry.
func (h *Handler) storeAll(ctx context.Context, evs []event.Event) ([]bool, error) {
	stored := make([]bool, len(evs))
	workers := h.Concurrency
	if workers <= 0 {
		workers = DefaultConcurrency
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i, ev := range evs {
		g.Go(func() error {
			ok, err := h.Store.Put(gctx, ev)
			stored[i] = ok
			return err
		})
	}
	err := g.Wait()
	if s, ok := h.Store.(Syncer); ok && err == nil {
		err = s.Sync(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("store %d events: %w", len(evs), err)
	}
	return stored, nil
}

// verifySignature returns why the signature is refused, or "" when it matches.
func verifySignature(body []byte, signature, secret string) string {
	if signature == "" {
		return "missing X-Signature header"
	}
	got, err := hex.DecodeString(strings.TrimSpace(signature))
	if err != nil {
		return "X-Signature is not a hex HMAC-SHA1"
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return "X-Signature does not match the body"
	}
	return ""
}

var (
	errTooLarge            = errors.New("decoded body too large")
	errUnsupportedEncoding = errors.New("unsupported Content-Encoding")
)

// decode undoes the body's Content-Encoding: gzip (what Segment's libraries and many
// proxies send) within MaxBody decoded bytes, so a small bomb cannot fill memory.
func decode(encoding string, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
	default:
		return nil, fmt.Errorf("%w: %q; send the body uncompressed or with gzip", errUnsupportedEncoding, encoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("Content-Encoding gzip: body is not valid gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("Content-Encoding gzip: body is not valid gzip: %w", err)
	}
	if len(out) > MaxBody {
		return nil, errTooLarge
	}
	return out, nil
}

func tooLarge() events.APIGatewayV2HTTPResponse {
	return httpapi.Error(http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", MaxBody))
}
