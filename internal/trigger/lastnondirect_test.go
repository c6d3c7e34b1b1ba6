package trigger_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/source"
)

// Direct visits in every position never become the last non-direct touch; the traits
// name the latest touch with a source, and are absent when there is none.
func TestIdentifyLastNonDirectIgnoresDirectVisitsInEveryPosition(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	direct := source.Description{Referrer: source.Referrer{Type: source.TypeDirect}, Channel: "Direct"}
	search := source.Description{Referrer: source.Referrer{Type: source.TypeSearch, Engine: "google"}, Channel: "Organic Search"}
	social := source.Description{Referrer: source.Referrer{Type: source.TypeSocial, Network: "linkedin"}, Channel: "Organic Social"}
	taggedDirect := source.Description{Referrer: source.Referrer{Type: source.TypeDirect}, Campaign: &source.Campaign{Source: "newsletter", Medium: "email"}, Channel: "Email"}
	cases := []struct {
		name  string
		descs []source.Description
		want  string // source_last_non_direct_channel, "" for absent
	}{
		{"direct first", []source.Description{direct, search, social}, "Organic Social"},
		{"direct in the middle", []source.Description{search, direct, social}, "Organic Social"},
		{"direct last", []source.Description{search, social, direct}, "Organic Social"},
		{"direct last, twice", []source.Description{social, search, direct, direct}, "Organic Search"},
		{"direct everywhere but the middle", []source.Description{direct, search, direct}, "Organic Search"},
		{"a tagged link without referrer is not direct", []source.Description{search, taggedDirect, direct}, "Email"},
		{"only direct", []source.Description{direct, direct}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var touches []attribution.Touch
			for i, d := range c.descs {
				touches = append(touches, attribution.Touch{MessageID: string(rune('a' + i)), Timestamp: t0.Add(time.Duration(i) * time.Hour), Description: d})
			}
			msg, ok := attribution.Identify("u1", touches)
			require.True(t, ok)
			assert.Equal(t, c.descs[len(c.descs)-1].Channel, msg.Traits["source_last_channel"])
			assert.Equal(t, c.descs[0].Channel, msg.Traits["source_first_channel"])
			if c.want == "" {
				assert.NotContains(t, msg.Traits, "source_last_non_direct_channel")
				assert.NotContains(t, msg.Traits, "source_last_non_direct_referrer_type")
				return
			}
			assert.Equal(t, c.want, msg.Traits["source_last_non_direct_channel"])
			ts := msg.Traits["source_last_non_direct_timestamp"]
			for _, tc := range touches {
				if attribution.FormatTimestamp(tc.Timestamp) == ts {
					assert.False(t, attribution.IsDirect(tc.Description), "the trait names a touch with a source")
				}
			}

			// A later direct visit changes the last touch but not the last non-direct one.
			more := append(touches, attribution.Touch{MessageID: "z", Timestamp: t0.Add(24 * time.Hour), Description: direct})
			next, _ := attribution.Identify("u1", more)
			assert.Equal(t, c.want, next.Traits["source_last_non_direct_channel"])
			assert.NotEqual(t, msg.MessageID, next.MessageID, "the last touch changed, so the message did")
		})
	}
}
