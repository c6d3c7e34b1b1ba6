package segmenttest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
)

func post(t *testing.T, s *segmenttest.Server, user, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/v1/batch", strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
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
			assert.Equal(t, tt.status, resp.StatusCode, "status")
			assert.Len(t, s.Messages(), tt.accepted, "accepted messages")
			reqs := s.Requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, tt.status, reqs[0].Status, "recorded status")
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
	assert.Equal(t, 200, resp.StatusCode, "status")
	assert.Len(t, s.Messages(), 2_500, "accepted messages")
	assert.Equal(t, 100, s.Dropped(), "dropped")
}

func TestServerFailNextAndDuplicates(t *testing.T) {
	s := segmenttest.NewServer(t, "key")
	s.FailNext(1, 429, "3")
	s.FailNext(1, 500, "")
	assert.Equal(t, 429, post(t, s, "key", batch(msg("a", 0))).StatusCode, "first status")
	assert.Equal(t, 500, post(t, s, "key", batch(msg("a", 0))).StatusCode, "second status")
	assert.Equal(t, 200, post(t, s, "key", batch(msg("a", 0))).StatusCode, "third status")
	assert.Equal(t, 200, post(t, s, "key", batch(msg("a", 0), msg("b", 0))).StatusCode, "fourth status")
	assert.Equal(t, []string{"a", "b"}, s.UniqueMessageIDs())
	assert.Equal(t, 1, s.Duplicates(), "duplicates")
	assert.Len(t, s.Requests(), 4, "requests")
}
