// Package segmenttest is a fake of Segment's batch endpoint (POST /v1/batch) for tests,
// strict where the real one is strict and lossy where the real one is lossy:
//
//   - 401 unless HTTP Basic auth carries the write key as user and an empty password;
//   - 400 for a body over 500,000 bytes, a message over 32,000 bytes (Segment's "500KB"
//     and "32KB" read as 1,000-byte KB, the stricter reading), invalid JSON, a
//     Content-Type that is not JSON, or a message without messageId; a 400 rejects the
//     whole request, nothing in it is recorded;
//   - above 2,500 messages it answers 200 and drops the excess, as Segment does.
//
// It deliberately does not import package segment, so it checks the client against
// the limits rather than against the client's own idea of them.
package segmenttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Limits the fake enforces.
const (
	MaxRequestBytes  = 500_000
	MaxMessageBytes  = 32_000
	MaxBatchMessages = 2_500
)

// Message is one accepted message, with the fields tests usually check decoded.
type Message struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	UserID      string         `json:"userId"`
	AnonymousID string         `json:"anonymousId"`
	Event       string         `json:"event"`
	Timestamp   string         `json:"timestamp"`
	Traits      map[string]any `json:"traits"`
	Properties  map[string]any `json:"properties"`
	// Raw is the message exactly as the client sent it.
	Raw json.RawMessage `json:"-"`
}

// Request is one request the fake answered, accepted or not.
type Request struct {
	Status     int
	Bytes      int
	Messages   int // in the body, before any were dropped
	Accepted   int // recorded; Messages - Accepted were dropped or rejected
	SentAt     string
	UserAgent  string
	Authorized bool
	// Error is why the request was refused, empty when it was answered 200.
	Error string
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to use as the client's Endpoint (http://127.0.0.1:port).
	URL string

	writeKey string
	srv      *httptest.Server

	mu       sync.Mutex
	script   []scripted
	requests []Request
	messages []Message
	dropped  int
}

type scripted struct {
	status     int
	retryAfter string
}

// NewServer starts a fake that accepts writeKey, listening on 127.0.0.1 only, and
// closes it when the test ends.
func NewServer(tb testing.TB, writeKey string) *Server {
	tb.Helper()
	s := &Server{writeKey: writeKey}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("segmenttest: listen on 127.0.0.1: %v", err)
	}
	_ = s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// FailNext makes the next n authorised requests answer status without recording
// anything, with a Retry-After header when retryAfter is not empty. Calls queue up:
// FailNext(1, 429, "1") then FailNext(1, 500, "") fails one request with each.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.script = append(s.script, scripted{status: status, retryAfter: retryAfter})
	}
}

// Messages returns every accepted message in the order received; a message sent
// twice appears twice.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Requests returns every request answered, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// UniqueMessageIDs returns the distinct messageIds accepted, in order of first arrival.
func (s *Server) UniqueMessageIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(s.messages))
	var ids []string
	for _, m := range s.messages {
		if !seen[m.MessageID] {
			seen[m.MessageID] = true
			ids = append(ids, m.MessageID)
		}
	}
	return ids
}

// Duplicates counts accepted messages whose messageId had already been accepted
// (Segment would deduplicate them; a client that produces them wastes quota).
func (s *Server) Duplicates() int {
	n := len(s.Messages())
	return n - len(s.UniqueMessageIDs())
}

// Dropped counts messages accepted with a 200 but discarded for exceeding 2,500 in
// one request: data the real Segment would have lost silently.
func (s *Server) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	req := Request{UserAgent: r.UserAgent()}
	answer := func(status int, msg string) {
		req.Status = status
		if status != http.StatusOK {
			req.Error = msg
		}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		body, _ := json.Marshal(map[string]any{"success": status == http.StatusOK, "message": msg})
		_, _ = w.Write(body)
	}
	// Read the body first so every answer leaves the connection reusable.
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	_, _ = io.Copy(io.Discard, r.Body)
	req.Bytes = len(body)
	if err != nil {
		answer(http.StatusBadRequest, "read body: "+err.Error())
		return
	}

	if r.Method != http.MethodPost || r.URL.Path != "/v1/batch" {
		answer(http.StatusNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
		return
	}
	user, pass, ok := r.BasicAuth()
	req.Authorized = ok && user == s.writeKey && pass == ""
	if !req.Authorized {
		answer(http.StatusUnauthorized, "invalid write key")
		return
	}
	if fail, ok := s.popScript(); ok {
		if fail.retryAfter != "" {
			w.Header().Set("Retry-After", fail.retryAfter)
		}
		answer(fail.status, "scripted failure")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		answer(http.StatusBadRequest, fmt.Sprintf("content-type %q is not application/json", ct))
		return
	}
	if len(body) > MaxRequestBytes {
		answer(http.StatusBadRequest, fmt.Sprintf("request over %d bytes", MaxRequestBytes))
		return
	}
	var envelope struct {
		Batch  []json.RawMessage `json:"batch"`
		SentAt string            `json:"sentAt"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		answer(http.StatusBadRequest, "invalid JSON: "+err.Error())
		return
	}
	if envelope.Batch == nil {
		answer(http.StatusBadRequest, "no batch")
		return
	}
	req.SentAt = envelope.SentAt
	req.Messages = len(envelope.Batch)

	msgs := make([]Message, 0, len(envelope.Batch))
	for i, raw := range envelope.Batch {
		if len(raw) > MaxMessageBytes {
			answer(http.StatusBadRequest, fmt.Sprintf("message %d is %d bytes, over %d", i, len(raw), MaxMessageBytes))
			return
		}
		var m Message
		if err := json.Unmarshal(raw, &m); err != nil {
			answer(http.StatusBadRequest, fmt.Sprintf("message %d: invalid JSON: %v", i, err))
			return
		}
		if m.MessageID == "" {
			answer(http.StatusBadRequest, fmt.Sprintf("message %d: no messageId", i))
			return
		}
		m.Raw = append(json.RawMessage(nil), raw...)
		msgs = append(msgs, m)
	}
	accepted := msgs[:min(len(msgs), MaxBatchMessages)]
	req.Accepted = len(accepted)
	s.mu.Lock()
	s.messages = append(s.messages, accepted...)
	s.dropped += len(msgs) - len(accepted)
	s.mu.Unlock()
	answer(http.StatusOK, "")
}

func (s *Server) popScript() (scripted, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.script) == 0 {
		return scripted{}, false
	}
	next := s.script[0]
	s.script = s.script[1:]
	return next, true
}
