package segmenttest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
)

func post(t *testing.T, s *segmenttest.Server, user, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/batch", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	return resp
}

func batch(msgs ...string) string {
	return `{"batch":[` + strings.Join(msgs, ",") + `],"sentAt":"2026-01-02T03:04:05.000Z"}`
}

func msg(id string, pad int) string {
	return fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u","event":"E","properties":{"p":%q}}`, id, strings.Repeat("x", pad))
}

func TestServer(t *testing.T) {
	tests := []struct {
		name     string
		user     string
		body     string
		status   int
		accepted int
	}{
		{"accepts", "key", batch(msg("a", 0), msg("b", 0)), 200, 2},
		{"wrong key", "nope", batch(msg("a", 0)), 401, 0},
		{"invalid JSON", "key", `{"batch":[`, 400, 0},
		{"no messageId", "key", batch(`{"type":"track","userId":"u","event":"E"}`), 400, 0},
		{"message at 32,000 bytes", "key", batch(msg("a", 32_000-len(msg("a", 0)))), 200, 1},
		{"message over 32,000 bytes", "key", batch(msg("a", 32_001-len(msg("a", 0)))), 400, 0},
		{"body over 500,000 bytes", "key", batch(msg("a", 31_000), msg("b", 31_000), msg("c", 31_000), msg("d", 31_000),
			msg("e", 31_000), msg("f", 31_000), msg("g", 31_000), msg("h", 31_000), msg("i", 31_000), msg("j", 31_000),
			msg("k", 31_000), msg("l", 31_000), msg("m", 31_000), msg("n", 31_000), msg("o", 31_000), msg("p", 31_000),
			msg("q", 31_000)), 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := segmenttest.NewServer(t, "key")
			resp := post(t, s, tt.user, tt.body)
			equal(t, "status", resp.StatusCode, tt.status)
			equal(t, "accepted messages", len(s.Messages()), tt.accepted)
			reqs := s.Requests()
			if len(reqs) != 1 {
				t.Fatalf("recorded %d requests, want 1", len(reqs))
			}
			equal(t, "recorded status", reqs[0].Status, tt.status)
		})
	}
}

func TestServerDropsAbove2500(t *testing.T) {
	s := segmenttest.NewServer(t, "key")
	msgs := make([]string, 2_600)
	for i := range msgs {
		msgs[i] = msg(fmt.Sprint(i), 0)
	}
	resp := post(t, s, "key", batch(msgs...))
	equal(t, "status", resp.StatusCode, 200)
	equal(t, "accepted messages", len(s.Messages()), 2_500)
	equal(t, "dropped", s.Dropped(), 100)
}

func TestServerFailNextAndDuplicates(t *testing.T) {
	s := segmenttest.NewServer(t, "key")
	s.FailNext(1, 429, "3")
	s.FailNext(1, 500, "")
	equal(t, "first status", post(t, s, "key", batch(msg("a", 0))).StatusCode, 429)
	equal(t, "second status", post(t, s, "key", batch(msg("a", 0))).StatusCode, 500)
	equal(t, "third status", post(t, s, "key", batch(msg("a", 0))).StatusCode, 200)
	equal(t, "fourth status", post(t, s, "key", batch(msg("a", 0), msg("b", 0))).StatusCode, 200)
	equal(t, "unique ids", strings.Join(s.UniqueMessageIDs(), ","), "a,b")
	equal(t, "duplicates", s.Duplicates(), 1)
	equal(t, "requests", len(s.Requests()), 4)
}

// equal is the one assertion these tests need. testify is not used: its yaml
// dependency has no go.sum entry in this module yet, so importing it breaks the build.
func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
