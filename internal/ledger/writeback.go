package ledger

import (
	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/conversion"
	"github.com/attribution-dev/attribution/internal/segment"
)

// CreditMessages are the write-back tracks of c: one per touch with any credit, at the
// conversion's time, carrying the conversion, the touch's flattened description and
// credit_<model> for every model, so a warehouse sums credit_linear by channel and gets
// the linear report.
func CreditMessages(c conversion.Conversion, event string) []segment.Message {
	var msgs []segment.Message
	for _, t := range c.Touches {
		credited := false
		for _, v := range t.Credits {
			credited = credited || v > 0
		}
		if !credited {
			continue
		}
		props := attribution.TrackProperties(attribution.Touch{URL: t.URL, Referrer: t.Referrer, Description: t.Description})
		props["conversion_event"] = c.Event
		props["conversion_message_id"] = c.MessageID
		props["value"] = c.Value
		props["currency"] = c.Currency
		props["touch_message_id"] = t.MessageID
		props["touch_timestamp"] = attribution.FormatTimestamp(t.Timestamp)
		for _, m := range attribution.Models() {
			props["credit_"+string(m)] = t.Credits[m]
		}
		m := segment.Track(attribution.CreditMessageID(c.MessageID, t.MessageID, t.Credits), c.UserID, c.AnonymousID, event, props, c.Timestamp)
		segment.Fit(&m)
		msgs = append(msgs, m)
	}
	return msgs
}
