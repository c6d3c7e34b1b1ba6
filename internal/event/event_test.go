package event

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", name))
	require.NoError(t, err)
	return b
}

func TestParseEveryTestdataType(t *testing.T) {
	for _, tc := range []struct {
		file, typ, anon, user, name string
	}{
		{"page.json", TypePage, "4f0b5c0e-8c2d-4a8e-9a0c-2b6f3f4a9d11", "", ""},
		{"track.json", TypeTrack, "4f0b5c0e-8c2d-4a8e-9a0c-2b6f3f4a9d11", "", "Signup Started"},
		{"identify.json", TypeIdentify, "4f0b5c0e-8c2d-4a8e-9a0c-2b6f3f4a9d11", "jane.doe+crm@example.com", ""},
		{"screen.json", TypeScreen, "D3B5C9E1-2F7A-4C8B-9E0D-6A1B2C3D4E5F", "jane.doe+crm@example.com", "Dashboard"},
		{"group.json", TypeGroup, "4f0b5c0e-8c2d-4a8e-9a0c-2b6f3f4a9d11", "jane.doe+crm@example.com", ""},
		{"alias.json", TypeAlias, "", "usr_01JDZK3Q7W", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw := readTestdata(t, tc.file)
			ev, err := Parse(raw)
			require.NoError(t, err)
			assert.Equal(t, tc.typ, ev.Type)
			assert.Equal(t, tc.anon, ev.AnonymousID)
			assert.Equal(t, tc.user, ev.UserID)
			assert.Equal(t, tc.name, ev.Name)
			assert.Equal(t, FromTimestamp, ev.TimestampSource)
			assert.False(t, ev.DerivedMessageID)
			assert.NotEmpty(t, ev.MessageID)
			assert.Equal(t, string(raw), string(ev.Raw), "the original JSON is kept byte for byte")
		})
	}
}

func TestParsePageReadsURLAndReferrer(t *testing.T) {
	ev, err := Parse(readTestdata(t, "page.json"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(ev.URL, "https://www.acme.io/pricing?utm_source=newsletter"))
	assert.Equal(t, "https://www.google.com/", ev.Referrer)
	assert.Equal(t, "2026-11-29T10:42:21.805Z", ev.Time())

	// Only context.page: analytics.js always sends it, other libraries may not set properties.
	ev, err = Parse([]byte(`{"type":"page","anonymousId":"a","timestamp":"2026-01-02T03:04:05Z","context":{"page":{"url":"https://x.io/","referrer":"https://t.co/"}}}`))
	require.NoError(t, err)
	assert.Equal(t, "https://x.io/", ev.URL)
	assert.Equal(t, "https://t.co/", ev.Referrer)
}

func TestParseRefusesWithTheFieldNamed(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"not an object", `[1]`, "JSON object"},
		{"no type", `{"anonymousId":"a","timestamp":"2026-01-01T00:00:00Z"}`, "type is required"},
		{"unknown type", `{"type":"purchase","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z"}`, `type "purchase"`},
		{"type not a string", `{"type":5,"anonymousId":"a"}`, "type must be a string"},
		{"no ids", `{"type":"page","timestamp":"2026-01-01T00:00:00Z"}`, "anonymousId or userId is required"},
		{"blank ids", `{"type":"page","anonymousId":"  ","userId":"","timestamp":"2026-01-01T00:00:00Z"}`, "anonymousId or userId is required"},
		{"id an object", `{"type":"page","anonymousId":{"a":1},"timestamp":"2026-01-01T00:00:00Z"}`, "anonymousId must be a string"},
		{"track without event", `{"type":"track","userId":"u","timestamp":"2026-01-01T00:00:00Z"}`, "event is required"},
		{"alias without previousId", `{"type":"alias","userId":"u","timestamp":"2026-01-01T00:00:00Z"}`, "previousId is required"},
		{"alias without userId", `{"type":"alias","anonymousId":"a","previousId":"p","timestamp":"2026-01-01T00:00:00Z"}`, "userId is required for alias"},
		{"group without groupId", `{"type":"group","userId":"u","timestamp":"2026-01-01T00:00:00Z"}`, "groupId is required"},
		{"bad timestamp", `{"type":"page","anonymousId":"a","timestamp":"yesterday"}`, "timestamp \"yesterday\" is not an ISO-8601"},
		{"no time at all", `{"type":"page","anonymousId":"a"}`, "timestamp is required"},
		{"huge userId", `{"type":"page","userId":"` + strings.Repeat("u", 1025) + `","timestamp":"2026-01-01T00:00:00Z"}`, "userId is longer than 1024"},
		{"huge previousId", `{"type":"alias","userId":"u","previousId":"` + strings.Repeat("p", 1025) + `","timestamp":"2026-01-01T00:00:00Z"}`, "previousId is longer than 1024"},
		{"huge groupId", `{"type":"group","userId":"u","groupId":"` + strings.Repeat("g", 1025) + `","timestamp":"2026-01-01T00:00:00Z"}`, "groupId is longer than 1024"},
		{"huge messageId", `{"type":"page","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z","messageId":"` + strings.Repeat("m", 300) + `"}`, "messageId is longer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body))
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalid))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestTimestampFallsBackAndSaysSo(t *testing.T) {
	ev, err := Parse([]byte(`{"type":"page","anonymousId":"a","receivedAt":"2026-03-04T05:06:07.891Z","sentAt":"2026-03-04T05:06:07.000Z"}`))
	require.NoError(t, err)
	assert.Equal(t, FromReceivedAt, ev.TimestampSource)
	assert.Equal(t, "2026-03-04T05:06:07.891Z", ev.Time())

	ev, err = Parse([]byte(`{"type":"page","anonymousId":"a","sentAt":"2026-03-04T05:06:07+02:00"}`))
	require.NoError(t, err)
	assert.Equal(t, FromSentAt, ev.TimestampSource)
	assert.Equal(t, "2026-03-04T03:06:07.000Z", ev.Time(), "stored in UTC")
}

func TestNumericIDsAreCoercedToStrings(t *testing.T) {
	ev, err := Parse([]byte(`{"type":"identify","userId":12345,"timestamp":"2026-01-01T00:00:00Z","messageId":987}`))
	require.NoError(t, err)
	assert.Equal(t, "12345", ev.UserID)
	assert.Equal(t, "987", ev.MessageID)
}

func TestDerivedMessageIDIgnoresRetryFields(t *testing.T) {
	a, err := Parse([]byte(`{"type":"track","event":"X","userId":"u","timestamp":"2026-01-01T00:00:00Z","sentAt":"2026-01-01T00:00:01Z","properties":{"b":1,"a":2}}`))
	require.NoError(t, err)
	b, err := Parse([]byte(`{"properties":{"a":2,"b":1},"sentAt":"2026-01-01T00:09:09Z","timestamp":"2026-01-01T00:00:00Z","userId":"u","event":"X","type":"track"}`))
	require.NoError(t, err)
	c, err := Parse([]byte(`{"type":"track","event":"Y","userId":"u","timestamp":"2026-01-01T00:00:00Z"}`))
	require.NoError(t, err)
	assert.True(t, a.DerivedMessageID)
	assert.Equal(t, a.MessageID, b.MessageID, "same event, other sentAt and key order: same id")
	assert.NotEqual(t, a.MessageID, c.MessageID)
	assert.Less(t, len(a.MessageID), 100)
}

func TestParseBodyShapes(t *testing.T) {
	single, err := ParseBody(readTestdata(t, "page.json"))
	require.NoError(t, err)
	assert.False(t, single.Batch)
	require.Len(t, single.Items, 1)
	require.NoError(t, single.Items[0].Err)

	batch, err := ParseBody(readTestdata(t, "batch.json"))
	require.NoError(t, err)
	assert.True(t, batch.Batch)
	require.Len(t, batch.Items, 6)
	for _, it := range batch.Items {
		assert.NoError(t, it.Err)
	}

	arr, err := ParseBody([]byte(`[{"type":"page","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z"}, {"type":"nope"}]`))
	require.NoError(t, err)
	require.Len(t, arr.Items, 2)
	assert.NoError(t, arr.Items[0].Err)
	assert.Error(t, arr.Items[1].Err)
	assert.Equal(t, 1, arr.Items[1].Index)
}

func TestParseBodyMalformed(t *testing.T) {
	for _, body := range []string{"", "   ", "{", `{"type":"page"`, "null", `"page"`, "[]", `{"batch": {}}`, `{"batch": []}`, "\x00\x01"} {
		_, err := ParseBody([]byte(body))
		assert.ErrorIs(t, err, ErrMalformed, "body %q", body)
	}
	many := "[" + strings.Repeat(`{},`, MaxBatch) + "{}]"
	_, err := ParseBody([]byte(many))
	assert.ErrorIs(t, err, ErrMalformed)
}

func TestParseTimeForms(t *testing.T) {
	for _, s := range []string{"2026-11-29T10:42:21.805Z", "2026-11-29T10:42:21Z", "2026-11-29T11:42:21.805+01:00", "2026-11-29T11:42:21.805+0100", "2026-11-29T10:42:21.805123456Z"} {
		got, err := ParseTime(s)
		require.NoError(t, err, s)
		assert.Equal(t, time.Date(2026, 11, 29, 10, 42, 21, 0, time.UTC), got.Truncate(time.Second), s)
	}
	// The year range holds in UTC, the stored form: these two are in 10000 and 1969 there.
	for _, s := range []string{"", "2026-13-01T00:00:00Z", "1/2/2026", "0001-01-01T00:00:00Z", "9999-12-31T23:30:00-01:00", "1970-01-01T00:30:00+01:00"} {
		_, err := ParseTime(s)
		assert.Error(t, err, s)
	}
}

// Error messages quote what was sent, shortened: never by cutting a character in two.
func TestRefusalsQuoteWholeCharacters(t *testing.T) {
	_, err := Parse([]byte(`{"type":"` + strings.Repeat("a", 39) + `€€","userId":"u","timestamp":"2026-01-01T00:00:00Z"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), strings.Repeat("a", 39)+"…")
	assert.NotContains(t, err.Error(), `\x`, "no broken UTF-8 in the message")
}
