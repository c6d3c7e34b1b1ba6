package attribution

import (
	"strings"

	"github.com/attribution-dev/attribution/internal/source"
)

// Summary is what identify traits and the query routes report about a person's touches.
// A nil field means there is no such touch.
type Summary struct {
	First *Touch `json:"firstTouch"`
	Last  *Touch `json:"lastTouch"`
	// LastNonDirect is the latest touch for which IsDirect is false. It is nil when every
	// touch is direct, so callers can tell "never acquired by a source" from "acquired by
	// the last touch"; the last_non_direct model falls back to Last in that case.
	LastNonDirect *Touch `json:"lastNonDirectTouch"`
}

// Summarize finds the first, last and last non-direct touches. The input may be in any
// order and is not modified. Touches are ordered by Timestamp and then MessageID, so two
// touches in the same millisecond (a Segment batch often has them) always resolve the
// same way whatever order the store returned them in.
//
// The returned touches are copies: a Summary outlives the slice it was built from without
// aliasing it.
func Summarize(touches []Touch) Summary {
	first, last, lastNonDirect := -1, -1, -1
	for i := range touches {
		t := &touches[i]
		if first < 0 || compareTouches(t, &touches[first]) < 0 {
			first = i
		}
		if last < 0 || compareTouches(t, &touches[last]) >= 0 {
			last = i
		}
		if !IsDirect(t.Description) && (lastNonDirect < 0 || compareTouches(t, &touches[lastNonDirect]) >= 0) {
			lastNonDirect = i
		}
	}
	if first < 0 {
		return Summary{}
	}
	// One allocation for all three copies keeps Summarize cheap on the realtime path.
	buf := new([3]Touch)
	buf[0], buf[1] = touches[first], touches[last]
	s := Summary{First: &buf[0], Last: &buf[1]}
	if lastNonDirect >= 0 {
		buf[2] = touches[lastNonDirect]
		s.LastNonDirect = &buf[2]
	}
	return s
}

// IsDirect reports whether a visit shows no evidence of where it came from: its referrer
// type is direct (or internal, or missing) and it carries no utm_* campaign parameter.
//
// A campaign wins over a direct referrer because a tagged newsletter link opened in a
// desktop mail app arrives without a referrer yet was plainly sent by the newsletter.
// Internal and empty types count as direct because neither names an acquisition source: touches should never be internal, and an empty type is a touch
// stored without a description. Every other type, unknown included, means a referrer
// was seen, so it is a source.
func IsDirect(d source.Description) bool {
	if hasCampaign(d.Campaign) {
		return false
	}
	switch d.Referrer.Type {
	case source.TypeDirect, source.TypeInternal, "":
		return true
	}
	return false
}

func hasCampaign(c *source.Campaign) bool {
	return c != nil && (c.Source != "" || c.Medium != "" || c.Campaign != "" || c.Term != "" || c.Content != "")
}

// compareTouches is the one ordering every function here uses, so that summaries,
// credits and message ids never disagree about which touch came first.
func compareTouches(a, b *Touch) int {
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c
	}
	return strings.Compare(a.MessageID, b.MessageID)
}
