package segment

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/attribution-dev/attribution/internal/clip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func oversized() Message {
	return Identify("attr-identify-1", "u-1", map[string]any{
		"source_first_url":      "https://acme.io/?ref=" + strings.Repeat("x", 30_000),
		"source_first_referrer": "https://www.google.com/search?q=" + strings.Repeat("é", 9_000),
		"source_last_url":       "https://acme.io/pricing",
		"source_last_campaign":  nil,
	}, time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC))
}

func TestFitLeavesAMessageThatFitsAlone(t *testing.T) {
	m := Identify("attr-identify-1", "u-1", map[string]any{"source_first_url": "https://acme.io/" + strings.Repeat("x", 20_000)}, time.Time{})
	before := m.Traits["source_first_url"]
	assert.False(t, Fit(&m))
	assert.Equal(t, before, m.Traits["source_first_url"])
}

func TestFitShortensTheLongestValuesJustEnough(t *testing.T) {
	m := oversized()
	require.True(t, Fit(&m))

	raw, err := encode(m)
	require.NoError(t, err, "a fitted message passes the client's own check")
	assert.LessOrEqual(t, len(raw), MaxMessageBytes)
	assert.Greater(t, len(raw), MaxMessageBytes-200, "values are cut no more than needed")

	for _, k := range []string{"source_first_url", "source_first_referrer"} {
		s := m.Traits[k].(string)
		assert.True(t, strings.HasSuffix(s, clip.Ellipsis), "%s says it was shortened", k)
		assert.True(t, utf8.ValidString(s), "%s was cut inside a character", k)
	}
	assert.True(t, strings.HasPrefix(m.Traits["source_first_url"].(string), "https://acme.io/?ref=xxx"))
	assert.Equal(t, "https://acme.io/pricing", m.Traits["source_last_url"], "short values are untouched")
	assert.Nil(t, m.Traits["source_last_campaign"])

	again := oversized()
	Fit(&again)
	assert.Equal(t, m.Traits, again.Traits, "the same message is always shortened the same way")
}

func TestFitShortensTrackProperties(t *testing.T) {
	m := Track("attr-track-1", "", "anon-1", "Source Identified", map[string]any{
		"url": "https://acme.io/?q=" + strings.Repeat("y", 50_000), "referrer_type": "direct",
	}, time.Time{})
	require.True(t, Fit(&m))
	raw, err := encode(m)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(raw), MaxMessageBytes)
	assert.Equal(t, "direct", m.Properties["referrer_type"])
}

func TestFitGivesUpWhenNoShorteningHelps(t *testing.T) {
	// Only the event name is too long: values are restored and encoding says why.
	m := Track("attr-track-1", "", "anon-1", strings.Repeat("E", 40_000), map[string]any{"url": "https://acme.io/" + strings.Repeat("z", 1_000)}, time.Time{})
	before := m.Properties["url"]
	assert.False(t, Fit(&m))
	assert.Equal(t, before, m.Properties["url"])
	_, err := encode(m)
	assert.ErrorIs(t, err, ErrInvalidMessage)
}
