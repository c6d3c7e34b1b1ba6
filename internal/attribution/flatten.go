package attribution

import (
	"time"

	"github.com/attribution-dev/attribution/internal/source"
)

// Trait prefixes of the identify call (README, "Sending attribution to Segment").
const (
	PrefixFirst         = "source_first_"
	PrefixLast          = "source_last_"
	PrefixLastNonDirect = "source_last_non_direct_"
)

// TimestampLayout is how touch times appear in traits: RFC 3339 in UTC with exactly three
// fractional digits, so the strings sort the way the instants do and match what Segment's
// own libraries send.
const TimestampLayout = "2006-01-02T15:04:05.000Z07:00"

// flatField is one leaf of source.Description under its flattened JSON key. The list is
// written out rather than derived by reflection so the hot path neither reflects nor
// allocates for keys; TestFlattenMatchesJSON fails if it ever drifts from the JSON tags,
// including when a field is added to source.Description.
type flatField struct {
	key string
	get func(*source.Description) string
}

var flatFields = [...]flatField{
	{"referrer_type", func(d *source.Description) string { return string(d.Referrer.Type) }},
	{"referrer_engine", func(d *source.Description) string { return d.Referrer.Engine }},
	{"referrer_query", func(d *source.Description) string { return d.Referrer.Query }},
	{"referrer_network", func(d *source.Description) string { return d.Referrer.Network }},
	{"referrer_client", func(d *source.Description) string { return d.Referrer.Client }},
	{"referrer_site", func(d *source.Description) string { return d.Referrer.Site }},
	{"referrer_assistant", func(d *source.Description) string { return d.Referrer.Assistant }},
	{"referrer_from", func(d *source.Description) string { return d.Referrer.From }},
	{"referrer_link", func(d *source.Description) string { return d.Referrer.Link }},
	{"campaign_source", func(d *source.Description) string { return campaignOf(d).Source }},
	{"campaign_medium", func(d *source.Description) string { return campaignOf(d).Medium }},
	{"campaign_campaign", func(d *source.Description) string { return campaignOf(d).Campaign }},
	{"campaign_term", func(d *source.Description) string { return campaignOf(d).Term }},
	{"campaign_content", func(d *source.Description) string { return campaignOf(d).Content }},
	{"channel", func(d *source.Description) string { return d.Channel }},
}

// noCampaign stands in for a nil campaign so the getters above need no nil checks.
var noCampaign source.Campaign

func campaignOf(d *source.Description) *source.Campaign {
	if d.Campaign == nil {
		return &noCampaign
	}
	return d.Campaign
}

// touchKeys holds every key one touch contributes under one prefix, built once so that
// building traits never concatenates strings.
type touchKeys struct {
	desc      [len(flatFields)]string
	timestamp string
	url       string
	referrer  string
}

func newTouchKeys(prefix string) *touchKeys {
	k := &touchKeys{timestamp: prefix + "timestamp", url: prefix + "url", referrer: prefix + "referrer"}
	for i, f := range flatFields {
		k.desc[i] = prefix + f.key
	}
	return k
}

var (
	plainKeys         = newTouchKeys("")
	firstKeys         = newTouchKeys(PrefixFirst)
	lastKeys          = newTouchKeys(PrefixLast)
	lastNonDirectKeys = newTouchKeys(PrefixLastNonDirect)
)

// maxTouchKeys is the most keys one touch can add; used to size maps up front.
const maxTouchKeys = len(flatFields) + 3

// Flatten returns the description with nested keys joined by "_", exactly the keys its
// JSON encoding has (referrer_type, referrer_client, campaign_source, channel, ...).
// Empty values are left out, as the contract asks: an empty string carries no
// information, and leaving it out keeps messages well under Segment's 32 KB limit.
func Flatten(d source.Description) map[string]any {
	m := make(map[string]any, len(flatFields))
	putDescription(m, plainKeys, &d)
	return m
}

// TrackProperties are the properties of the track event sent for one touch: the
// unprefixed flattened description plus the touch's url and referrer.
func TrackProperties(t Touch) map[string]any {
	m := make(map[string]any, maxTouchKeys)
	putDescription(m, plainKeys, &t.Description)
	putString(m, plainKeys.url, t.URL)
	putString(m, plainKeys.referrer, t.Referrer)
	return m
}

// Traits are the identify traits for a summary: each of the first, last and last
// non-direct touches flattened under its prefix, with its timestamp, url and referrer.
//
// Segment merges traits into a profile, so every key of a touch that is present is sent,
// null when the touch lacks it: otherwise a new last touch without a utm_term would leave
// the previous one's source_last_campaign_term in Mixpanel or Customer.io, describing a
// visit that never happened. A missing touch contributes no key at all, so
// source_last_non_direct_* is absent, not null, while every touch was direct: there is
// nothing downstream to clear.
func Traits(s Summary) map[string]any {
	m := make(map[string]any, 3*maxTouchKeys)
	putTouchTraits(m, firstKeys, s.First)
	putTouchTraits(m, lastKeys, s.Last)
	putTouchTraits(m, lastNonDirectKeys, s.LastNonDirect)
	return m
}

func putTouchTraits(m map[string]any, k *touchKeys, t *Touch) {
	if t == nil {
		return
	}
	for _, key := range k.desc {
		m[key] = nil
	}
	m[k.timestamp], m[k.url], m[k.referrer] = nil, nil, nil
	putDescription(m, k, &t.Description)
	// A zero time means the touch was stored without one; "0001-01-01" would read as a
	// real, very early first touch in every downstream tool, so it stays null.
	if !t.Timestamp.IsZero() {
		m[k.timestamp] = FormatTimestamp(t.Timestamp)
	}
	putString(m, k.url, t.URL)
	putString(m, k.referrer, t.Referrer)
}

func putDescription(m map[string]any, k *touchKeys, d *source.Description) {
	for i := range flatFields {
		putString(m, k.desc[i], flatFields[i].get(d))
	}
}

func putString(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}

// FormatTimestamp formats t the way traits carry times (TimestampLayout, UTC).
func FormatTimestamp(t time.Time) string {
	return t.UTC().Format(TimestampLayout)
}
