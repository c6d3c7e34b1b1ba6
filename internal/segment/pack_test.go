package segment

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
)

func TestEnvelopeSizeIsExact(t *testing.T) {
	batch := encodeAll(t, tracks(3))
	body := buildBody(batch, testNow)
	assert.Equal(t, len(body), bodySize(batch), "bodySize")
	assert.True(t, strings.HasSuffix(string(body), `"sentAt":"2026-03-04T05:06:07.890Z"}`), "sentAt")
	// A zero-millisecond time must not shorten sentAt, or sizes would be off by 4.
	assert.Len(t, buildBody(batch, testNow.Truncate(time.Second)), len(body), "len at whole second")
}

// checkPacking verifies what must hold for any packing and returns the request count.
func checkPacking(t *testing.T, msgs []encoded, batches [][]encoded) {
	t.Helper()
	seen := make([]int, len(msgs))
	for bi, b := range batches {
		if size := bodySize(b); size > MaxRequestBytes {
			t.Errorf("batch %d: %d bytes, over %d", bi, size, MaxRequestBytes)
		}
		if len(b) > MaxBatchMessages {
			t.Errorf("batch %d: %d messages, over %d", bi, len(b), MaxBatchMessages)
		}
		for i, m := range b {
			seen[m.index]++
			if i > 0 && b[i-1].index >= m.index {
				t.Errorf("batch %d: message %d after %d, not in caller order", bi, m.index, b[i-1].index)
			}
		}
		if bi > 0 && batches[bi-1][0].index >= b[0].index {
			t.Errorf("batch %d does not start after batch %d", bi, bi-1)
		}
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("message %d packed %d times", i, n)
		}
	}
}

func TestPack(t *testing.T) {
	oneUser := make([]Message, 10_000)
	for i := range oneUser {
		oneUser[i] = Track(fmt.Sprintf("m-%d", i), "u", "", "E", nil, testNow)
	}
	tests := []struct {
		name string
		msgs []Message
		// want is the exact count where it is known; 0 means "at most minimum + 1".
		want int
	}{
		{"none", nil, 0},
		{"one", tracks(1), 1},
		{"10,000 mixed sizes, some near 32 KB", mixedMessages(10_000), 0},
		{"10,000 small: bound by count", tracks(10_000), 4},
		{"10,000 small of one person", oneUser, 4},
		{"2,501 small", tracks(2_501), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encodeAll(t, tt.msgs)
			batches := pack(enc)
			checkPacking(t, enc, batches)
			lower := minRequests(enc)
			t.Logf("%d messages: %d requests, minimum %d", len(enc), len(batches), lower)
			if tt.want > 0 {
				assert.Len(t, batches, tt.want, "requests")
			}
			assert.LessOrEqual(t, len(batches), lower+1, "at most one request over the minimum")
		})
	}
}

func TestPackKeepsAPersonsMessagesTogether(t *testing.T) {
	// Three people, interleaved, all small: each person's messages fit one chunk, so
	// they must share a request and keep their order in it.
	var msgs []Message
	for i := range 30 {
		msgs = append(msgs, Track(fmt.Sprintf("m-%d", i), fmt.Sprintf("u-%d", i%3), "", "E", nil, testNow))
	}
	enc := encodeAll(t, msgs)
	where := map[string]int{}
	for bi, b := range pack(enc) {
		for _, m := range b {
			if prev, ok := where[m.key]; ok {
				assert.Equal(t, prev, bi, "%s split across requests", m.key)
			}
			where[m.key] = bi
		}
	}
}

// The fake is strict at 500,000 and 32,000 bytes: it answering 200 to every request
// proves the sizes, not just our own arithmetic.
func TestSendMixedSizesThroughFake(t *testing.T) {
	fake := segmenttest.NewServer(t, "key")
	c, _ := testClient(t, Config{WriteKey: "key", Endpoint: fake.URL})
	// 4,000 rather than 10,000: the fake decodes every message, which is slow under -race.
	msgs := mixedMessages(4_000)
	results := c.Send(context.Background(), msgs)
	require.NoError(t, Err(results))

	lower := minRequests(encodeAll(t, msgs))
	reqs := fake.Requests()
	for i, r := range reqs {
		assert.Equal(t, 200, r.Status, "request %d: %s", i, r.Error)
	}
	assert.LessOrEqual(t, len(reqs), lower+1, "at most one request over the minimum")
	assert.Len(t, fake.UniqueMessageIDs(), len(msgs), "unique messages received")
	assert.Equal(t, 0, fake.Duplicates(), "duplicates")
	assert.Equal(t, 0, fake.Dropped(), "dropped")
}
