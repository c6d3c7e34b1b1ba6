// Package eventtest builds events for tests the way the webhook does: from JSON.
package eventtest

import (
	"encoding/json"
	"testing"

	"github.com/attribution-dev/attribution/internal/event"
)

// FromFields marshals fields and parses them as one Segment event, failing the test if
// they are not a valid one.
func FromFields(t testing.TB, fields map[string]any) event.Event {
	t.Helper()
	raw, err := json.Marshal(fields)
	if err != nil {
		t.Fatalf("marshal event: %v", err)
	}
	ev, err := event.Parse(raw)
	if err != nil {
		t.Fatalf("parse event %s: %v", raw, err)
	}
	return ev
}
