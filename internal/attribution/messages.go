package attribution

// The Segment messages that carry attribution, built in one place so that the
// /segment routes, real-time pushes and backfills of the same touches send the same
// bytes under the same messageIds.

import "github.com/attribution-dev/attribution/internal/segment"

// Person kinds prefixed to the person id that track messageIds hash: an anonymous id and
// a userId may be the same string, and their tracks of one touch are different messages
// (one carries userId, the other does not), so they must not share an id and be
// deduplicated into one by Segment.
const (
	UserKind      = "user:"
	AnonymousKind = "anon:"
)

// Identify is the identify call carrying userID's attribution traits, and false when
// there are no touches to attribute.
//
// Its timestamp is the last touch's time, not the time of sending: the traits describe
// the person as of that touch, and a deterministic message (same touches, same bytes)
// is what makes re-triggering harmless. The messageId already changes exactly when the
// traits do (IdentifyMessageID).
//
// Overlong values (page URLs have no limit of their own) are shortened to fit Segment's
// message limit (segment.Fit). The messageId hashes the full traits: the shortening is a
// function of them, so the id still changes whenever what is sent does.
func Identify(userID string, touches []Touch) (segment.Message, bool) {
	if len(touches) == 0 {
		return segment.Message{}, false
	}
	s := Summarize(touches)
	m := segment.Identify(IdentifyMessageID(userID, s), userID, Traits(s), s.Last.Timestamp)
	segment.Fit(&m)
	return m, true
}

// UserTrack is the track call of one of userID's touches: userId plus the anonymousId
// the touch was recorded under, so Segment can link the two as well.
func UserTrack(userID, event string, t Touch) segment.Message {
	m := segment.Track(TrackMessageID(UserKind+userID, t), userID, t.AnonymousID, event,
		TrackProperties(t), t.Timestamp)
	segment.Fit(&m)
	return m
}

// AnonymousTrack is the track call of one of anonymousID's touches. It carries the
// anonymousId only, even when the touch's page event had a userId: the route names an
// anonymous visitor, and the user's own tracks come from the user route. Like every
// message built here, it is shortened to fit Segment's limit when it must be.
func AnonymousTrack(anonymousID, event string, t Touch) segment.Message {
	m := segment.Track(TrackMessageID(AnonymousKind+anonymousID, t), "", anonymousID, event,
		TrackProperties(t), t.Timestamp)
	segment.Fit(&m)
	return m
}
