package source

import "time"

// VisitTimeout is how long after a visitor's previous page view a page view still
// belongs to the same visit.
const VisitTimeout = 30 * time.Minute

// IsNewTouch decides whether a page view described by d starts a new touch.
//
// sincePrevious is the time since the visitor's previous page view (hasPrevious is
// false for their first); latest is the description of their latest touch, nil when
// there is none. Internal navigation is never a touch. Within VisitTimeout of the
// previous page view, a page view continues the current visit when it is direct with
// no campaign (a reload, a typed URL) or has the same source as the latest touch
// (a single-page app resending the original document.referrer); anything else starts
// a new touch. A negative sincePrevious (events delivered out of order) counts by its
// size, since the two page views are just as close either way.
func IsNewTouch(d Description, sincePrevious time.Duration, hasPrevious bool, latest *Description) bool {
	if d.Referrer.Type == TypeInternal {
		return false
	}
	if !hasPrevious || sincePrevious >= VisitTimeout || sincePrevious <= -VisitTimeout {
		return true
	}
	if d.Referrer.Type == TypeDirect && d.Campaign == nil {
		return false
	}
	return latest == nil || !SameSource(d, *latest)
}

// SameSource reports whether a page view's description says nothing new about where
// the visit came from compared with the latest touch's: the same referrer, and the same
// campaign or none. It ignores Referrer.Link, which is the page's own URL and changes on
// every virtual page view of a single-page app, and Channel, which follows from the rest.
// A page view without utm parameters is the same source as the touch that had them:
// after the landing page the app's own links drop them.
func SameSource(d, latest Description) bool {
	a, b := d.Referrer, latest.Referrer
	a.Link, b.Link = "", ""
	if a != b {
		return false
	}
	return d.Campaign == nil || latest.Campaign != nil && *d.Campaign == *latest.Campaign
}
