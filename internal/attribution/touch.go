// Package attribution turns a person's touches into first-, last- and multi-touch
// attribution, and into the flattened traits and properties written back to Segment.
package attribution

import (
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
