package segment

import (
	"errors"
	"fmt"
	"time"
)

// Limits of Segment's batch endpoint. Segment documents them as "500KB" and "32KB";
// we read KB as 1,000 bytes, which is safe under either reading.
const (
	// MaxRequestBytes is the largest request body the client sends.
	MaxRequestBytes = 500_000
	// MaxMessageBytes is the largest single message, as marshalled JSON.
	MaxMessageBytes = 32_000
	// MaxBatchMessages is the most messages per request: above it Segment answers 200
	// and silently drops the excess, so exceeding it loses data without any error.
	MaxBatchMessages = 2_500
	// MaxMessageIDLen is the first messageId length Segment does not accept: ids must
	// be under 100 characters. Counted in bytes, which is stricter for non-ASCII ids.
	MaxMessageIDLen = 100
)

// Message types the client knows how to validate.
const (
	TypeIdentify = "identify"
	TypeTrack    = "track"
)

// ErrInvalidMessage marks a message refused before sending: nothing about it reached Segment.
var ErrInvalidMessage = errors.New("invalid message")

// Message is one Segment call. Its JSON shape is Segment's HTTP Tracking API spec.
// MessageID should be deterministic: Segment deduplicates on it for about a
// day, which is what makes a retried or re-run send harmless.
type Message struct {
	Type        string         `json:"type"`
	MessageID   string         `json:"messageId"`
	UserID      string         `json:"userId,omitempty"`
	AnonymousID string         `json:"anonymousId,omitempty"`
	Event       string         `json:"event,omitempty"`
	Traits      map[string]any `json:"traits,omitempty"`
	Properties  map[string]any `json:"properties,omitempty"`
	// Timestamp is when the call happened; zero means "when Segment receives it",
	// which is wrong for historic touches, so set it whenever it is known.
	Timestamp time.Time      `json:"timestamp,omitzero"`
	Context   map[string]any `json:"context,omitempty"`
}

// Identify builds an identify call that sets traits on a known user.
func Identify(messageID, userID string, traits map[string]any, at time.Time) Message {
	return Message{Type: TypeIdentify, MessageID: messageID, UserID: userID, Traits: traits, Timestamp: at}
}

// Track builds a track call. Either userID or anonymousID may be empty, not both:
// touches of visitors who never signed in are tracked by anonymousId alone.
func Track(messageID, userID, anonymousID, event string, properties map[string]any, at time.Time) Message {
	return Message{
		Type: TypeTrack, MessageID: messageID, UserID: userID, AnonymousID: anonymousID,
		Event: event, Properties: properties, Timestamp: at,
	}
}

// encoded is a message marshalled once: every size decision and every retry uses these
// exact bytes, so what was measured is what is sent.
type encoded struct {
	index int // position in the caller's slice, which is where its Result goes
	id    string
	key   string // userId or anonymousId: packing keeps one person's messages together
	raw   []byte
}

// encode validates m and marshals it. It refuses what Segment would reject or, worse,
// accept with a 200 and silently drop (no identity, track without event).
func encode(m Message) ([]byte, error) {
	switch {
	case m.MessageID == "":
		return nil, fmt.Errorf("%w: empty messageId", ErrInvalidMessage)
	case len(m.MessageID) >= MaxMessageIDLen:
		return nil, fmt.Errorf("%w %q: messageId is %d bytes, must be under %d",
			ErrInvalidMessage, m.MessageID, len(m.MessageID), MaxMessageIDLen)
	case m.Type != TypeIdentify && m.Type != TypeTrack:
		return nil, fmt.Errorf("%w %q: type %q is not identify or track", ErrInvalidMessage, m.MessageID, m.Type)
	case m.UserID == "" && m.AnonymousID == "":
		return nil, fmt.Errorf("%w %q: neither userId nor anonymousId is set", ErrInvalidMessage, m.MessageID)
	case m.Type == TypeTrack && m.Event == "":
		return nil, fmt.Errorf("%w %q: track without event name", ErrInvalidMessage, m.MessageID)
	}
	raw, err := marshal(m)
	if err != nil {
		return nil, fmt.Errorf("%w %q: marshal: %w", ErrInvalidMessage, m.MessageID, err)
	}
	if len(raw) > MaxMessageBytes {
		return nil, fmt.Errorf("%w %q: %d bytes, over the %d-byte message limit",
			ErrInvalidMessage, m.MessageID, len(raw), MaxMessageBytes)
	}
	return raw, nil
}
