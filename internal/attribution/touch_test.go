package attribution

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/source"
)

func TestTouchJSONCarriesTheContractFields(t *testing.T) {
	tc := Touch{
		MessageID: "m1", AnonymousID: "a1", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC),
		URL: "https://acme.io/?utm_source=nl", Referrer: "https://www.google.com/",
		Description: source.Description{
			Referrer: source.Referrer{Type: source.TypeSearch, Engine: "google"},
			Campaign: &source.Campaign{Source: "nl"}, Channel: "Organic Search",
		},
	}
	b, err := json.Marshal(tc)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, "m1", got["messageId"])
	assert.Equal(t, "a1", got["anonymousId"])
	assert.Equal(t, "2026-01-02T03:04:05.006Z", got["timestamp"])
	assert.Equal(t, "https://www.google.com/", got["referrer"], "the referrer URL, not its description")
	assert.Equal(t, "Organic Search", got["channel"])
	assert.Equal(t, map[string]any{"source": "nl"}, got["campaign"])
	assert.Equal(t, map[string]any{"type": "search", "engine": "google"}, got["description"].(map[string]any)["referrer"])

	var back Touch
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, tc, back)
}
