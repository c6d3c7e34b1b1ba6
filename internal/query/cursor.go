package query

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/people"
	"github.com/attribution-dev/attribution/internal/store"
)

// The cursor is opaque to clients: base64url (no padding) of a JSON document holding,
// for the id it belongs to, each event source's position, i.e. the LastEvaluatedKey of
// the last event consumed from it (its time and messageId; the index key is the source
// itself). Nothing in it is trusted: every source must be one the id is linked to now,
// and each position is rebuilt into a key inside that source's partition, so a tampered
// cursor is either refused (400) or reads only what the id may see.

// maxCursor bounds the cursor parameter: a person with hundreds of devices fits.
const maxCursor = 64 << 10

const cursorVersion = 1

// ErrBadCursor marks a cursor that was not issued for this request.
var ErrBadCursor = errors.New("invalid cursor")

type cursorDoc struct {
	Version int         `json:"v"`
	For     string      `json:"for"`
	Sources []cursorSrc `json:"s"`
}

type cursorSrc struct {
	User      bool   `json:"u,omitempty"`
	ID        string `json:"id"`
	Time      string `json:"t,omitempty"`
	MessageID string `json:"m,omitempty"`
	Done      bool   `json:"d,omitempty"`
}

// encodeCursor returns "" when cur is done: there is no next page.
func encodeCursor(subject string, cur people.EventCursor) (string, error) {
	if cur.Done() {
		return "", nil
	}
	doc := cursorDoc{Version: cursorVersion, For: subject, Sources: make([]cursorSrc, len(cur))}
	for i, c := range cur {
		s := cursorSrc{User: c.Source.ByUser, ID: c.Source.ID, Done: c.Done}
		if c.After != nil && !c.Done {
			s.Time, s.MessageID = c.After.Time.UTC().Format(event.TimeLayout), c.After.MessageID
		}
		doc.Sources[i] = s
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("encode cursor: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodeCursor validates s against the request's subject and the sources the subject
// is linked to now.
func decodeCursor(s, subject string, allowed []store.EventSource) (people.EventCursor, error) {
	if len(s) > maxCursor {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrBadCursor, maxCursor)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrBadCursor)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var doc cursorDoc
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, fmt.Errorf("%w: not a cursor", ErrBadCursor)
	}
	if doc.Version != cursorVersion || doc.For != subject {
		return nil, fmt.Errorf("%w: issued for another request", ErrBadCursor)
	}
	if len(doc.Sources) == 0 {
		return nil, fmt.Errorf("%w: no sources", ErrBadCursor)
	}
	ok := make(map[store.EventSource]bool, len(allowed))
	for _, a := range allowed {
		ok[a] = true
	}
	seen := map[store.EventSource]bool{}
	cur := make(people.EventCursor, len(doc.Sources))
	for i, cs := range doc.Sources {
		src := store.EventSource{ByUser: cs.User, ID: cs.ID}
		if !ok[src] || seen[src] {
			return nil, fmt.Errorf("%w: source is not linked to this id", ErrBadCursor)
		}
		seen[src] = true
		cur[i] = people.SourceCursor{Source: src, Done: cs.Done}
		switch {
		case cs.Time == "" && cs.MessageID == "":
		case cs.Done || cs.Time == "" || cs.MessageID == "" || len(cs.MessageID) > event.MaxMessageIDLength:
			return nil, fmt.Errorf("%w: bad position", ErrBadCursor)
		default:
			t, err := time.Parse(event.TimeLayout, cs.Time)
			if err != nil || t.UTC().Format(event.TimeLayout) != cs.Time {
				return nil, fmt.Errorf("%w: bad position time", ErrBadCursor)
			}
			cur[i].After = &store.EventPosition{Time: t, MessageID: cs.MessageID}
		}
	}
	if cur.Done() {
		return nil, fmt.Errorf("%w: nothing left to read", ErrBadCursor)
	}
	return cur, nil
}
