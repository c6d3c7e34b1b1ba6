package event

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseBody checks the webhook body parser never panics and that every event it
// accepts satisfies what storage relies on.
func FuzzParseBody(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "events", "*.json"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"type":"page","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z"}]`))
	f.Add([]byte(`{"batch":[{"type":"alias","userId":"u","previousId":"p","sentAt":"2026-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		parsed, err := ParseBody(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, it := range parsed.Items {
			if it.Err != nil {
				if !errors.Is(it.Err, ErrInvalid) {
					t.Fatalf("unexpected item error kind: %v", it.Err)
				}
				continue
			}
			ev := it.Event
			if ev.MessageID == "" || len(ev.MessageID) > MaxMessageIDLength {
				t.Fatalf("bad messageId %q", ev.MessageID)
			}
			if ev.AnonymousID == "" && ev.UserID == "" {
				t.Fatal("accepted an event without ids")
			}
			if len(ev.Time()) != len(TimeLayout) {
				t.Fatalf("time %q is not fixed width", ev.Time())
			}
		}
	})
}
