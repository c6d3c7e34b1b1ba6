// Package conversion turns a conversion event and its person's touches into a credited
// conversion, and sums credited conversions into rollups, the raw material of reports.
// It is pure: plain values in and out, no storage.
package conversion

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/source"
)

// Labels for rows a touch cannot fill.
const (
	// NoTouch is the row of conversions with no touch in their window.
	NoTouch = "(none)"
	// NotSet is the row of touches without the dimension's value.
	NotSet = "(not set)"
)

// DefaultCurrency is the currency of a value sent without one.
const DefaultCurrency = "USD"

// DayLayout is how report days are written: calendar dates, sortable as text.
const DayLayout = "2006-01-02"

// Dimensions a report can group by, in the order the API lists them.
var Dimensions = []string{"channel", "source", "medium", "campaign", "source_medium", "referrer_type", "referrer_name", "landing_page"}

// Conversion is a conversion event credited to the touches in its window.
type Conversion struct {
	MessageID string    `json:"messageId"`
	Event     string    `json:"event"`
	Timestamp time.Time `json:"timestamp"`
	// Day is the calendar date of Timestamp in the report time zone, Hour its hour
	// ("00".."23"): they place the conversion in the rollups.
	Day         string  `json:"day"`
	Hour        string  `json:"hour"`
	Value       float64 `json:"value"`
	Currency    string  `json:"currency"`
	UserID      string  `json:"userId,omitempty"`
	AnonymousID string  `json:"anonymousId,omitempty"`
	// Person is whose touches were credited (UserKey or AnonymousKey).
	Person string `json:"person"`
	// Touches are the touches in the window, oldest first, each with its credits.
	Touches []Touch `json:"touches"`
}

// Touch is a touch in a conversion's window with its share of the conversion under
// every model.
type Touch struct {
	MessageID   string             `json:"messageId"`
	AnonymousID string             `json:"anonymousId,omitempty"`
	UserID      string             `json:"userId,omitempty"`
	Timestamp   time.Time          `json:"timestamp"`
	URL         string             `json:"url"`
	Referrer    string             `json:"referrer"`
	Channel     string             `json:"channel"`
	Description source.Description `json:"description"`
	// Credits is the touch's share per model; the shares of a conversion's touches sum
	// to 1 under every model.
	Credits map[attribution.Model]float64 `json:"credits"`
	// Labels are the touch's row under each of Dimensions, in that order.
	Labels []string `json:"labels"`
}

// Input is what a conversion event says, before crediting.
type Input struct {
	MessageID   string
	Event       string
	Timestamp   time.Time
	Value       float64
	Currency    string
	UserID      string
	AnonymousID string
	Person      string
}

// A person key names whose touches a conversion is credited over: a user (over every
// linked id, UserKey) or an anonymous visitor alone (AnonymousKey). The prefixes keep a
// userId and an anonymousId of the same text apart.

// UserKey is the person key of a user.
func UserKey(userID string) string { return "user:" + userID }

// AnonymousKey is the person key of an anonymous visitor.
func AnonymousKey(anonymousID string) string { return "anon:" + anonymousID }

// ParsePersonKey splits a person key; ok is false for anything else.
func ParsePersonKey(key string) (userID, anonymousID string, ok bool) {
	if u, found := strings.CutPrefix(key, "user:"); found {
		return u, "", true
	}
	if a, found := strings.CutPrefix(key, "anon:"); found {
		return "", a, true
	}
	return "", "", false
}

// Settings are what crediting a conversion depends on besides its touches.
type Settings struct {
	Lookback time.Duration
	Location *time.Location
	HalfLife time.Duration
}

// Compute credits in over touches (the person's, in any order) under every rule-based
// model: the touches with conversion time − Lookback ≤ touch time ≤ conversion time count.
func Compute(in Input, touches []attribution.Touch, s Settings) (Conversion, error) {
	local := in.Timestamp.In(s.Location)
	c := Conversion{
		MessageID: in.MessageID, Event: in.Event, Timestamp: in.Timestamp.UTC(),
		Day: local.Format(DayLayout), Hour: local.Format("15"),
		Value: in.Value, Currency: in.Currency, UserID: in.UserID, AnonymousID: in.AnonymousID, Person: in.Person,
		Touches: []Touch{},
	}
	from := in.Timestamp.Add(-s.Lookback)
	var window []attribution.Touch
	for _, t := range touches {
		if !t.Timestamp.Before(from) && !t.Timestamp.After(in.Timestamp) {
			window = append(window, t)
		}
	}
	if len(window) == 0 {
		return c, nil
	}
	shares := make(map[attribution.Model][]float64, len(attribution.Models()))
	for _, m := range attribution.Models() {
		w, err := attribution.TouchCredits(m, window, attribution.Options{ConversionTime: in.Timestamp, HalfLife: s.HalfLife})
		if err != nil {
			return Conversion{}, fmt.Errorf("credit conversion %s: %w", in.MessageID, err)
		}
		shares[m] = w
	}
	for i, t := range window {
		ct := Touch{
			MessageID: t.MessageID, AnonymousID: t.AnonymousID, UserID: t.UserID, Timestamp: t.Timestamp.UTC(),
			URL: t.URL, Referrer: t.Referrer, Channel: t.Description.Channel, Description: t.Description,
			Credits: make(map[attribution.Model]float64, len(shares)), Labels: Labels(t),
		}
		for m, w := range shares {
			ct.Credits[m] = w[i]
		}
		c.Touches = append(c.Touches, ct)
	}
	sortTouches(c.Touches)
	return c, nil
}

// Labels are a touch's rows under each of Dimensions, in order.
func Labels(t attribution.Touch) []string {
	d := t.Description
	or := func(s string) string {
		if s == "" {
			return NotSet
		}
		return s
	}
	var medium, campaign string
	if d.Campaign != nil {
		medium, campaign = d.Campaign.Medium, d.Campaign.Campaign
	}
	if medium == "" {
		medium = impliedMedium(d.Referrer.Type)
	}
	src := attribution.SourceName(t)
	return []string{
		or(d.Channel),
		or(src),
		or(medium),
		or(campaign),
		or(src) + " / " + or(medium),
		or(string(d.Referrer.Type)),
		or(attribution.ReferrerName(d.Referrer)),
		or(landingPage(t.URL)),
	}
}

// impliedMedium is the medium a visit without utm_medium has, as Google Analytics names
// it: organic for search, referral for links, (none) for direct.
func impliedMedium(t source.Type) string {
	switch t {
	case source.TypeSearch:
		return "organic"
	case source.TypeSocial:
		return "social"
	case source.TypeEmail:
		return "email"
	case source.TypeAd:
		return "cpc"
	case source.TypeLink, source.TypeAI, source.TypeLocal:
		return "referral"
	case source.TypeDirect:
		return "(none)"
	}
	return ""
}

// landingPage is a URL's host and path, without scheme, query or fragment ("" when the
// URL has no host).
func landingPage(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return strings.ToLower(u.Host) + path
}

// Value reads a conversion event's value and currency from its raw JSON:
// properties.revenue, else properties.value, else properties.total (a number or a numeric
// string), in properties.currency (ISO 4217, upper-cased; default USD). No value is 0.
// A value that is not a finite number, or a currency that is not ISO 4217, counts as 0;
// problem says why, for the caller to log.
func Value(raw json.RawMessage) (value float64, currency, problem string) {
	var ev struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	currency = DefaultCurrency
	if err := json.Unmarshal(raw, &ev); err != nil {
		return 0, currency, "event is not a JSON object"
	}
	p := ev.Properties
	if c, ok := p["currency"]; ok && string(c) != "null" {
		var s string
		if json.Unmarshal(c, &s) != nil || !knownCurrency(strings.ToUpper(strings.TrimSpace(s))) {
			return 0, currency, fmt.Sprintf("properties.currency %s is not an ISO 4217 currency code", clipped(c))
		}
		currency = strings.ToUpper(strings.TrimSpace(s))
	}
	for _, name := range []string{"revenue", "value", "total"} {
		v, ok := p[name]
		if !ok || string(v) == "null" {
			continue
		}
		f, err := number(v)
		if err != nil {
			return 0, currency, fmt.Sprintf("properties.%s %s is not a number", name, clipped(v))
		}
		return f, currency, ""
	}
	return 0, currency, ""
}

func number(v json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, fmt.Errorf("not a number")
		}
		if f, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, err
		}
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not finite")
	}
	return f, nil
}

// clipped quotes at most 40 bytes of a value in a log line: enough to recognise it.
func clipped(v json.RawMessage) string {
	if len(v) > 40 {
		return string(v[:40]) + "…"
	}
	return string(v)
}
