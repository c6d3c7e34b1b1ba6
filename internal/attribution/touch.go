// Package attribution turns a person's touches into first-, last- and multi-touch
// attribution, and into the flattened traits and properties written back to Segment.
package attribution

import (
	"encoding/json"
	"time"

	"github.com/attribution-dev/attribution/internal/clip"
	"github.com/attribution-dev/attribution/internal/source"
)

// Touch is the entry of a visit: a page view whose description is not internal
// (source.IsNewTouch). MessageID is the page event's messageId.
type Touch struct {
	MessageID   string             `json:"messageId"`
	AnonymousID string             `json:"anonymousId,omitempty"`
	UserID      string             `json:"userId,omitempty"`
	Timestamp   time.Time          `json:"timestamp"`
	URL         string             `json:"url"`
	Referrer    string             `json:"referrer"`
	Description source.Description `json:"description"`
}

// MaxTouchValueBytes bounds each string a stored touch keeps from its page event (url,
// referrer, and what the description quotes of them). Page URLs have no limit of their
// own, and a touch can repeat its URL and referrer (an email or link touch keeps both as
// from and link): unbounded, one overlong URL makes a touch DynamoDB refuses on every
// delivery. Real URLs stay far below this.
const MaxTouchValueBytes = 16_000

// Clipped is t with every string from its page event cut to MaxTouchValueBytes (see
// clip.String). Detection runs on the whole URL first, so the description is right.
func (t Touch) Clipped() Touch {
	c := func(s *string) { *s = clip.String(*s, MaxTouchValueBytes) }
	c(&t.URL)
	c(&t.Referrer)
	r := &t.Description.Referrer
	for _, s := range []*string{&r.Engine, &r.Query, &r.Network, &r.Client, &r.Site, &r.Assistant, &r.From, &r.Link} {
		c(s)
	}
	if t.Description.Campaign != nil {
		cp := *t.Description.Campaign // the caller's description may be shared
		for _, s := range []*string{&cp.Source, &cp.Medium, &cp.Campaign, &cp.Term, &cp.Content} {
			c(s)
		}
		t.Description.Campaign = &cp
	}
	c(&t.Description.Channel)
	return t
}

// MarshalJSON adds the description's channel and campaign beside the touch's own
// fields, as the query contract lists them; the whole description stays under
// "description" because its referrer object cannot share the "referrer" key with the
// referrer URL.
func (t Touch) MarshalJSON() ([]byte, error) {
	type plain Touch
	return json.Marshal(struct {
		plain
		Channel  string           `json:"channel"`
		Campaign *source.Campaign `json:"campaign,omitempty"`
	}{plain(t), t.Description.Channel, t.Description.Campaign})
}
