// Package event is the Segment event model: it parses webhook bodies (one event, a JSON
// array of events, or a {"batch": [...]} body), validates each event and keeps its
// original JSON so nothing the sender wrote is lost.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/attribution-dev/attribution/internal/clip"
)

// Types Segment sends through its Webhooks destination.
const (
	TypePage     = "page"
	TypeTrack    = "track"
	TypeIdentify = "identify"
	TypeScreen   = "screen"
	TypeGroup    = "group"
	TypeAlias    = "alias"
)

// Where an event's time came from, kept in the stored item so a fallback is visible.
const (
	FromTimestamp  = "timestamp"
	FromReceivedAt = "receivedAt"
	FromSentAt     = "sentAt"
)

// MaxMessageIDLength bounds messageIds: DynamoDB keys hold 2 KB, Segment's ids are under 100.
const MaxMessageIDLength = 256

// TimeLayout is fixed-width so that stored times sort lexically in time order.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Event is one validated Segment event: the indexed fields, and Raw, the exact bytes sent.
type Event struct {
	MessageID   string
	Type        string
	AnonymousID string
	UserID      string
	PreviousID  string // alias
	GroupID     string // group
	Name        string // track's event, page's or screen's name
	URL         string // page: properties.url or context.page.url
	Referrer    string // page: properties.referrer or context.page.referrer
	Timestamp   time.Time
	// TimestampSource says which field Timestamp came from (FromTimestamp normally).
	TimestampSource string
	// DerivedMessageID is true when the sender gave no messageId and one was derived
	// from the canonical body, so replays still deduplicate.
	DerivedMessageID bool
	Raw              json.RawMessage
}

// Time is the event's time in the stored, sortable layout.
func (e Event) Time() string { return e.Timestamp.UTC().Format(TimeLayout) }

// ErrInvalid marks a client mistake in an event; its message names the field.
var ErrInvalid = errors.New("invalid event")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// wire is the subset of an event the service reads. Ids are flexible because some
// libraries send numeric userIds; Segment coerces them to strings, and so do we.
type wire struct {
	// Batch is only read at the top of a body: {"batch": [...]} is the tracking API's form.
	Batch       json.RawMessage `json:"batch"`
	MessageID   flexString      `json:"messageId"`
	Type        *string         `json:"type"`
	AnonymousID flexString      `json:"anonymousId"`
	UserID      flexString      `json:"userId"`
	PreviousID  flexString      `json:"previousId"`
	GroupID     flexString      `json:"groupId"`
	Event       *string         `json:"event"`
	Name        *string         `json:"name"`
	Timestamp   *string         `json:"timestamp"`
	ReceivedAt  *string         `json:"receivedAt"`
	SentAt      *string         `json:"sentAt"`
	Properties  *struct {
		URL      *string `json:"url"`
		Referrer *string `json:"referrer"`
	} `json:"properties"`
	Context *struct {
		Page *struct {
			URL      *string `json:"url"`
			Referrer *string `json:"referrer"`
		} `json:"page"`
	} `json:"context"`
}

// flexString accepts a JSON string, number or null; anything else is a type error.
type flexString struct {
	set   bool
	value string
	// mangled is true when the string was not valid UTF-8 or held a lone surrogate
	// escape: decoded, it would be U+FFFD, the same as other ids that differ from it.
	mangled bool
}

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		f.set = true
		f.mangled = !sentBytesValid(b)
		return json.Unmarshal(b, &f.value)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		f.set = true
		f.value = string(b)
		return nil
	}
	// A type error lets encoding/json add the field's name to the message.
	return &json.UnmarshalTypeError{Value: "non-string", Type: reflect.TypeFor[string]()}
}

// Parse validates one event's JSON with the built-in blocklist. Errors wrap ErrInvalid
// and name the field at fault.
func Parse(raw []byte) (Event, error) {
	ev, _, err := (*Blocklist)(nil).Parse(raw)
	return ev, err
}

// Parse validates one event's JSON; blocked names the id fields it dropped as blocked.
// Errors wrap ErrInvalid and name the field at fault.
func (b *Blocklist) Parse(raw []byte) (ev Event, blocked []string, err error) {
	if err := checkDepth(raw); err != nil {
		return Event{}, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return Event{}, nil, invalid("%s", describeJSONError(err))
	}
	return b.fromWire(raw, &w)
}

// fromWire validates w. An id on the blocklist is dropped, as if it had not been sent,
// and named in blocked: the event still counts under its other id, and an event left
// with no id at all is refused.
func (b *Blocklist) fromWire(raw []byte, w *wire) (ev Event, blocked []string, err error) {
	ev = Event{Raw: json.RawMessage(raw)}
	for _, f := range []struct {
		name string
		v    flexString
	}{{"messageId", w.MessageID}, {"anonymousId", w.AnonymousID}, {"userId", w.UserID}, {"previousId", w.PreviousID}, {"groupId", w.GroupID}} {
		if f.v.mangled {
			// Ids are compared as the bytes sent; decoding would collapse distinct ids.
			return Event{}, nil, invalid("%s is not valid UTF-8 (or holds a lone surrogate escape)", f.name)
		}
	}

	if w.Type == nil || *w.Type == "" {
		return Event{}, blocked, invalid("type is required (one of page, track, identify, screen, group, alias)")
	}
	ev.Type = strings.ToLower(*w.Type)
	switch ev.Type {
	case TypePage, TypeTrack, TypeIdentify, TypeScreen, TypeGroup, TypeAlias:
	default:
		return Event{}, blocked, invalid("type %q is not one of page, track, identify, screen, group, alias", clip.String(*w.Type, 40))
	}

	ev.AnonymousID = strings.TrimSpace(w.AnonymousID.value)
	ev.UserID = strings.TrimSpace(w.UserID.value)
	if ev.AnonymousID == "" && ev.UserID == "" {
		return Event{}, blocked, invalid("anonymousId or userId is required")
	}
	sentUserID := ev.UserID != ""
	b.unblock("anonymousId", &ev.AnonymousID, &blocked)
	b.unblock("userId", &ev.UserID, &blocked)
	if ev.AnonymousID == "" && ev.UserID == "" {
		verb := " is"
		if len(blocked) > 1 {
			verb = " are"
		}
		return Event{}, blocked, invalid("anonymousId or userId is required: %s%s blocked (placeholders such as \"undefined\", \"null\" or \"0\" never identify anyone; see BLOCKED_IDS)",
			strings.Join(blocked, " and "), verb)
	}
	if err := checkIDLength("anonymousId", ev.AnonymousID); err != nil {
		return Event{}, blocked, err
	}
	if err := checkIDLength("userId", ev.UserID); err != nil {
		return Event{}, blocked, err
	}

	switch ev.Type {
	case TypeTrack:
		if w.Event == nil || strings.TrimSpace(*w.Event) == "" {
			return Event{}, blocked, invalid("event is required for track")
		}
		ev.Name = *w.Event
	case TypeAlias:
		ev.PreviousID = strings.TrimSpace(w.PreviousID.value)
		if ev.PreviousID == "" {
			return Event{}, blocked, invalid("previousId is required for alias")
		}
		// A blocked previousId links nothing; the alias still links its own device.
		b.unblock("previousId", &ev.PreviousID, &blocked)
		// Stored as an identity key like the other ids, so held to the same limit.
		if err := checkIDLength("previousId", ev.PreviousID); err != nil {
			return Event{}, blocked, err
		}
		if !sentUserID {
			return Event{}, blocked, invalid("userId is required for alias")
		}
	case TypeGroup:
		ev.GroupID = strings.TrimSpace(w.GroupID.value)
		if ev.GroupID == "" {
			return Event{}, blocked, invalid("groupId is required for group")
		}
		if err := checkIDLength("groupId", ev.GroupID); err != nil {
			return Event{}, blocked, err
		}
	case TypePage, TypeScreen:
		if w.Name != nil {
			ev.Name = *w.Name
		}
	}
	if ev.Type == TypePage {
		ev.URL, ev.Referrer = pageURLs(w)
	}

	if ev.Timestamp, ev.TimestampSource, err = eventTime(w); err != nil {
		return Event{}, blocked, err
	}

	ev.MessageID = strings.TrimSpace(w.MessageID.value)
	if ev.MessageID == "" {
		if ev.MessageID, err = deriveMessageID(raw); err != nil {
			return Event{}, blocked, invalid("%s", err)
		}
		ev.DerivedMessageID = true
	}
	if len(ev.MessageID) > MaxMessageIDLength {
		return Event{}, blocked, invalid("messageId is longer than %d bytes", MaxMessageIDLength)
	}
	return ev, blocked, nil
}

// pageURLs prefers properties (what analytics.js sets from the page call) and falls
// back to context.page, which every analytics.js event carries.
func pageURLs(w *wire) (pageURL, referrer string) {
	if w.Properties != nil {
		if w.Properties.URL != nil {
			pageURL = *w.Properties.URL
		}
		if w.Properties.Referrer != nil {
			referrer = *w.Properties.Referrer
		}
	}
	if w.Context != nil && w.Context.Page != nil {
		if pageURL == "" && w.Context.Page.URL != nil {
			pageURL = *w.Context.Page.URL
		}
		if referrer == "" && w.Context.Page.Referrer != nil {
			referrer = *w.Context.Page.Referrer
		}
	}
	return pageURL, referrer
}

// eventTime takes timestamp; only when it is absent does it fall back to receivedAt,
// then sentAt. A timestamp that is present but unreadable is the sender's mistake.
func eventTime(w *wire) (time.Time, string, error) {
	if w.Timestamp != nil && *w.Timestamp != "" {
		t, err := ParseTime(*w.Timestamp)
		if err != nil {
			return time.Time{}, "", invalid("timestamp %q is not an ISO-8601 date-time", clip.String(*w.Timestamp, 40))
		}
		return t, FromTimestamp, nil
	}
	for _, f := range []struct {
		v    *string
		from string
	}{{w.ReceivedAt, FromReceivedAt}, {w.SentAt, FromSentAt}} {
		if f.v == nil || *f.v == "" {
			continue
		}
		if t, err := ParseTime(*f.v); err == nil {
			return t, f.from, nil
		}
	}
	return time.Time{}, "", invalid("timestamp is required (ISO-8601, e.g. 2026-11-29T14:03:19.123Z)")
}

// MaxIDLength bounds person and group ids: they become DynamoDB key values (2 KB for a
// partition key, 1 KB for a sort key), and no real id comes near it.
const MaxIDLength = 1024

// CheckID returns why id, as a route or a command names a person, is refused, or "".
// Such an id must be one an event could have been stored under.
func CheckID(id string) string {
	switch {
	case strings.TrimSpace(id) == "":
		return "id is required"
	case len(id) > MaxIDLength:
		return fmt.Sprintf("id is longer than %d bytes", MaxIDLength)
	case !utf8.ValidString(id):
		return "id is not valid UTF-8"
	}
	return ""
}

func checkIDLength(name, v string) error {
	if len(v) > MaxIDLength {
		return invalid("%s is longer than %d bytes", name, MaxIDLength)
	}
	return nil
}

// ParseTime reads the ISO-8601 forms Segment libraries send: RFC 3339 with or without
// fractional seconds or zone designator colon. Times are returned in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			// The range applies in UTC, the form stored: 9999-12-31T23:30:00-01:00 is in
			// year 10000 there, which stored times cannot be parsed back from.
			t = t.UTC()
			if t.Year() < 1970 || t.Year() > 9999 {
				return time.Time{}, errors.New("year out of range")
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("parse time %q: not ISO-8601", clip.String(s, 40))
}

// deriveMessageID hashes the canonical body: keys sorted (encoding/json sorts map keys)
// and without sentAt/receivedAt, which change on every retry of the same event.
func deriveMessageID(raw []byte) (string, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("derive messageId: %w", err)
	}
	delete(m, "sentAt")
	delete(m, "receivedAt")
	delete(m, "_metadata")
	canonical, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("derive messageId: %w", err)
	}
	sum := sha256.Sum256(canonical)
	return "derived-" + hex.EncodeToString(sum[:16]), nil
}

func describeJSONError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return "event must be a JSON object"
		}
		return fmt.Sprintf("%s must be a %s", field, friendlyType(typeErr.Type.Kind().String()))
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return "malformed JSON at byte " + strconv.FormatInt(syntaxErr.Offset, 10)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func friendlyType(kind string) string {
	switch kind {
	case "ptr", "struct", "map":
		return "JSON object"
	}
	return kind
}
