package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// MaxBatch is the most events one body may carry: Webhooks (Actions) batches up to 4,000.
const MaxBatch = 4000

// Item is one entry of a body: the event, or why it was refused.
type Item struct {
	Index int
	Event Event
	Err   error
	// Blocked names the id fields dropped as blocked (see Blocklist), refused or not.
	Blocked []string
}

// Body is a parsed request: Batch is false for a single-event body.
type Body struct {
	Batch bool
	Items []Item
}

// ErrMalformed marks a body that is not an event, an array of events or a batch.
var ErrMalformed = errors.New("malformed body")

// ParseBody is Blocklist.ParseBody with the built-in blocklist.
func ParseBody(body []byte) (Body, error) { return (*Blocklist)(nil).ParseBody(body) }

// ParseBody splits a webhook body into events. A body that is not JSON at all, or is
// nested deeper than MaxDepth, is an error; events that fail validation are reported
// per item so the valid ones can be kept.
func (b *Blocklist) ParseBody(body []byte) (Body, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return Body{}, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	if err := checkDepth(trimmed); err != nil {
		return Body{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	switch trimmed[0] {
	case '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return Body{}, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
		}
		return b.parseMany(raws)
	case '{':
		// One decode serves both forms: a single event, or a {"batch": [...]} body.
		var w wire
		if err := json.Unmarshal(trimmed, &w); err != nil {
			var syntaxErr *json.SyntaxError
			if errors.As(err, &syntaxErr) {
				return Body{}, fmt.Errorf("%w: %s", ErrMalformed, describeJSONError(err))
			}
			// Valid JSON with a field of the wrong type: the event's fault, reported as such.
			return Body{Items: []Item{{Err: invalid("%s", describeJSONError(err))}}}, nil
		}
		if w.Batch == nil || string(w.Batch) == "null" {
			ev, blocked, err := b.fromWire(trimmed, &w)
			return Body{Items: []Item{{Event: ev, Err: err, Blocked: blocked}}}, nil
		}
		var raws []json.RawMessage
		if err := json.Unmarshal(w.Batch, &raws); err != nil {
			return Body{}, fmt.Errorf("%w: batch must be an array of events", ErrMalformed)
		}
		return b.parseMany(raws)
	}
	return Body{}, fmt.Errorf("%w: expected a JSON object or array", ErrMalformed)
}

func (b *Blocklist) parseMany(raws []json.RawMessage) (Body, error) {
	if len(raws) == 0 {
		return Body{}, fmt.Errorf("%w: no events in batch", ErrMalformed)
	}
	if len(raws) > MaxBatch {
		return Body{}, fmt.Errorf("%w: %d events in one body; at most %d", ErrMalformed, len(raws), MaxBatch)
	}
	out := Body{Batch: true, Items: make([]Item, len(raws))}
	for i, raw := range raws {
		var w wire
		if err := json.Unmarshal(raw, &w); err != nil {
			out.Items[i] = Item{Index: i, Err: invalid("%s", describeJSONError(err))}
			continue
		}
		ev, blocked, err := b.fromWire(raw, &w)
		out.Items[i] = Item{Index: i, Event: ev, Err: err, Blocked: blocked}
	}
	return out, nil
}
