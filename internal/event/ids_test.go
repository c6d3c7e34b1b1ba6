package event

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBuiltinBlockedIDs(t *testing.T) {
	var b *Blocklist
	for _, id := range []string{"", "  ", "0", "000000", "-", "00000000-0000-0000-0000-000000000000",
		"null", "NULL", "Undefined", "nil", "None", "NaN", "anonymous", "GUEST", "unknown", "[object Object]", "{}", " null "} {
		assert.True(t, b.Blocked(id), "%q is blocked", id)
	}
	for _, id := range []string{"u-1", "0x0", "10", "nullable", "guest-42", "a-0", "user@example.com"} {
		assert.False(t, b.Blocked(id), "%q is an id", id)
	}
}

func TestBlockedIDsFromSettings(t *testing.T) {
	b, err := ParseBlocklist(" void , abc123,/^test-[0-9]+$/, /(?i)^qa/ ,")
	require.NoError(t, err)
	for _, id := range []string{"void", "abc123", "test-7", "QA-bot", "undefined"} {
		assert.True(t, b.Blocked(id), "%q is blocked", id)
	}
	for _, id := range []string{"Void", "abc1234x", "test-x", "u-qa"} {
		assert.False(t, b.Blocked(id), "%q is an id (exact values are exact)", id)
	}

	_, err = ParseBlocklist("ok,/a(/")
	assert.ErrorContains(t, err, "/a(/")
}

func TestBlockedIDsAreDropped(t *testing.T) {
	b, err := ParseBlocklist("void")
	require.NoError(t, err)
	const ts = `"timestamp":"2026-01-01T00:00:00Z"`

	ev, blocked, err := b.Parse([]byte(`{"type":"identify","anonymousId":"a1","userId":"undefined",` + ts + `}`))
	require.NoError(t, err, "the anonymousId still counts")
	assert.Equal(t, "a1", ev.AnonymousID)
	assert.Empty(t, ev.UserID, "stored as if it had no userId")
	assert.Equal(t, []string{"userId"}, blocked)

	ev, blocked, err = b.Parse([]byte(`{"type":"page","anonymousId":"0","userId":"u1",` + ts + `}`))
	require.NoError(t, err)
	assert.Equal(t, "u1", ev.UserID)
	assert.Empty(t, ev.AnonymousID)
	assert.Equal(t, []string{"anonymousId"}, blocked)

	_, blocked, err = b.Parse([]byte(`{"type":"track","event":"X","anonymousId":"null","userId":"void",` + ts + `}`))
	assert.ErrorIs(t, err, ErrInvalid)
	assert.ErrorContains(t, err, "anonymousId and userId are blocked")
	assert.Equal(t, []string{"anonymousId", "userId"}, blocked)

	ev, blocked, err = b.Parse([]byte(`{"type":"alias","anonymousId":"a1","previousId":"guest","userId":"u1",` + ts + `}`))
	require.NoError(t, err, "a blocked previousId links nothing, the device still counts")
	assert.Empty(t, ev.PreviousID)
	assert.Equal(t, []string{"previousId"}, blocked)

	ev, _, err = b.Parse([]byte(`{"type":"alias","anonymousId":"a1","previousId":"p1","userId":"nil",` + ts + `}`))
	require.NoError(t, err)
	assert.Empty(t, ev.UserID, "an alias to a blocked userId links nothing")

	body, err := b.ParseBody([]byte(`[{"type":"page","anonymousId":"a",` + ts + `},{"type":"page","userId":"void",` + ts + `}]`))
	require.NoError(t, err)
	assert.NoError(t, body.Items[0].Err)
	assert.ErrorContains(t, body.Items[1].Err, "userId is blocked")
	assert.Equal(t, []string{"userId"}, body.Items[1].Blocked)

	// The package-level parsers apply the built-in list.
	_, err = Parse([]byte(`{"type":"page","userId":"undefined",` + ts + `}`))
	assert.ErrorContains(t, err, "blocked")
}

func TestIDsAreComparedAsSentBytes(t *testing.T) {
	const rest = `"type":"page","timestamp":"2026-01-01T00:00:00Z"`
	for _, tc := range []struct{ name, body, field string }{
		{"invalid UTF-8 messageId", "{" + rest + `,"anonymousId":"a","messageId":"m-` + "\xff" + `"}`, "messageId"},
		{"lone high surrogate", "{" + rest + `,"anonymousId":"a","messageId":"m-\ud800"}`, "messageId"},
		{"lone low surrogate", "{" + rest + `,"anonymousId":"a-\udc00"}`, "anonymousId"},
		{"high surrogate then text", "{" + rest + `,"userId":"u-\ud800x"}`, "userId"},
		{"invalid UTF-8 userId", "{" + rest + `,"userId":"u-` + "\xfe" + `"}`, "userId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body))
			require.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, tc.field+" is not valid UTF-8")
			body, err := ParseBody([]byte("[" + tc.body + "]"))
			require.NoError(t, err)
			assert.ErrorContains(t, body.Items[0].Err, tc.field+" is not valid UTF-8")
		})
	}
	ev, err := Parse([]byte("{" + rest + `,"anonymousId":"a-\ud83d\ude00-\\ud800-é"}`))
	require.NoError(t, err, "a surrogate pair, an escaped backslash and plain UTF-8 are fine")
	assert.Equal(t, `a-😀-\ud800-é`, ev.AnonymousID)
}

func TestNestedTooDeep(t *testing.T) {
	deep := `{"type":"page","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z","properties":` +
		strings.Repeat(`{"x":`, MaxDepth) + "1" + strings.Repeat("}", MaxDepth) + "}"
	_, err := ParseBody([]byte(deep))
	assert.ErrorIs(t, err, ErrMalformed)
	assert.ErrorContains(t, err, "nested too deep")
	_, err = Parse([]byte(deep))
	assert.ErrorContains(t, err, "nested too deep")

	ok := `{"type":"page","anonymousId":"a","timestamp":"2026-01-01T00:00:00Z","properties":` +
		strings.Repeat(`{"x":`, MaxDepth-2) + `"[[[[{{{{"` + strings.Repeat("}", MaxDepth-2) + "}"
	_, err = ParseBody([]byte(ok))
	assert.NoError(t, err, "brackets inside strings do not count")
}
