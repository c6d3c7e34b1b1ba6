// Package attribution turns a person's touches into first-, last- and multi-touch
// attribution, and into the flattened traits and properties written back to Segment.
package attribution

import (
	"encoding/json"
	"time"

	"github.com/attribution-dev/attribution/internal/source"
)

// Touch is the entry of a visit: a page view whose description is not internal
// (DESIGN.md, "Touches"). MessageID is the page event's messageId.
type Touch struct {
	MessageID   string             `json:"messageId"`
	AnonymousID string             `json:"anonymousId,omitempty"`
	UserID      string             `json:"userId,omitempty"`
	Timestamp   time.Time          `json:"timestamp"`
	URL         string             `json:"url"`
	Referrer    string             `json:"referrer"`
	Description source.Description `json:"description"`
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
