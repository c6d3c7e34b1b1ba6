package attribution

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/attribution-dev/attribution/internal/source"
)

func TestFlattenContractExample(t *testing.T) {
	// The contract's example: {"referrer":{"type":"email","client":"gmail"}} → referrer_type, referrer_client.
	var d source.Description
	if err := json.Unmarshal([]byte(`{"referrer":{"type":"email","client":"gmail"}}`), &d); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"referrer_type": "email", "referrer_client": "gmail"}
	if got := Flatten(d); !maps.Equal(got, want) {
		t.Errorf("Flatten = %v, want %v", got, want)
	}
}

func TestTraits(t *testing.T) {
	// The first touch is in another zone and has sub-millisecond digits, to pin the
	// timestamp down to UTC with exactly three fractional digits.
	paris := time.FixedZone("CET", 3600)
	first := Touch{
		MessageID: "m1",
		Timestamp: time.Date(2024, 3, 1, 10, 30, 0, 123456789, paris),
		URL:       "https://shop.example/?utm_source=newsletter",
		Referrer:  "https://mail.google.com/",
		Description: source.Description{
			Referrer: source.Referrer{Type: source.TypeEmail, Client: "gmail"},
			Campaign: &source.Campaign{Source: "newsletter", Campaign: "spring"},
			Channel:  "Email",
		},
	}
	last := Touch{
		MessageID:   "m2",
		Timestamp:   time.Date(2024, 3, 9, 8, 0, 0, 0, time.UTC),
		URL:         "https://shop.example/pricing",
		Description: direct(),
	}
	s := Summarize([]Touch{last, first})
	want := map[string]any{
		"source_first_referrer_type":               "email",
		"source_first_referrer_client":             "gmail",
		"source_first_campaign_source":             "newsletter",
		"source_first_campaign_campaign":           "spring",
		"source_first_channel":                     "Email",
		"source_first_timestamp":                   "2024-03-01T09:30:00.123Z",
		"source_first_url":                         "https://shop.example/?utm_source=newsletter",
		"source_first_referrer":                    "https://mail.google.com/",
		"source_last_referrer_type":                "direct",
		"source_last_channel":                      "Direct",
		"source_last_timestamp":                    "2024-03-09T08:00:00.000Z",
		"source_last_url":                          "https://shop.example/pricing",
		"source_last_non_direct_referrer_type":     "email",
		"source_last_non_direct_referrer_client":   "gmail",
		"source_last_non_direct_campaign_source":   "newsletter",
		"source_last_non_direct_campaign_campaign": "spring",
		"source_last_non_direct_channel":           "Email",
		"source_last_non_direct_timestamp":         "2024-03-01T09:30:00.123Z",
		"source_last_non_direct_url":               "https://shop.example/?utm_source=newsletter",
		"source_last_non_direct_referrer":          "https://mail.google.com/",
	}
	all := Traits(s)
	if len(all) != 3*maxTouchKeys {
		t.Errorf("got %d traits, want every key of the three touches (%d)", len(all), 3*maxTouchKeys)
	}
	got := nonNull(all)
	if !maps.Equal(got, want) {
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if got[k] != want[k] {
				t.Errorf("%s = %v, want %v", k, got[k], want[k])
			}
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected trait %s = %v", k, got[k])
			}
		}
	}
}

// TestTraitsContractKeys pins the key names the README spells out, independently of the
// table above, so renaming a prefix cannot pass by editing one table.
func TestTraitsContractKeys(t *testing.T) {
	got := Traits(Summarize([]Touch{touchAt("a", 0, newsletter())}))
	want := map[string]string{
		"source_first_referrer_type":  "direct",
		"source_last_campaign_source": "newsletter",
		"source_first_timestamp":      "2024-03-01T09:30:00.000Z",
		"source_first_url":            "https://shop.example/landing?from=a",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %q", k, got[k], v)
		}
	}
}

func TestTraitsWithoutNonDirectTouch(t *testing.T) {
	got := Traits(Summarize([]Touch{touchAt("a", 0, direct())}))
	for k := range got {
		if len(k) >= len(PrefixLastNonDirect) && k[:len(PrefixLastNonDirect)] == PrefixLastNonDirect {
			t.Errorf("trait %s present although every touch is direct", k)
		}
	}
	if got["source_first_referrer_type"] != "direct" || got["source_last_referrer_type"] != "direct" {
		t.Errorf("first/last traits missing: %v", got)
	}
}

func TestTraitsEmpty(t *testing.T) {
	if got := Traits(Summary{}); len(got) != 0 {
		t.Errorf("Traits(Summary{}) = %v, want empty", got)
	}
}

// nonNull is traits without the keys sent as null.
func nonNull(traits map[string]any) map[string]any {
	m := make(map[string]any, len(traits))
	for k, v := range traits {
		if v != nil {
			m[k] = v
		}
	}
	return m
}

func TestTraitsSendNullForWhatATouchLacks(t *testing.T) {
	got := Traits(Summary{First: &Touch{Description: search("google")}})
	want := map[string]any{
		"source_first_referrer_type":   "search",
		"source_first_referrer_engine": "google",
		"source_first_channel":         "Organic Search",
	}
	if !maps.Equal(nonNull(got), want) {
		t.Errorf("Traits = %v, want %v", nonNull(got), want)
	}
	// A zero timestamp is null, never "0001-01-01".
	for _, k := range []string{"source_first_timestamp", "source_first_url", "source_first_referrer", "source_first_campaign_term"} {
		if v, ok := got[k]; !ok || v != nil {
			t.Errorf("%s = %v (present %v), want null", k, v, ok)
		}
	}
}

// Segment merges traits, so a last touch that lacks what the previous one had must clear
// it: a campaign term left behind would describe a visit that never happened.
func TestTraitsClearWhatThePreviousLastTouchHad(t *testing.T) {
	paid := touchAt("a", 0, newsletter())
	paid.Description.Campaign.Term = "crm"
	before := Traits(Summarize([]Touch{paid}))
	if before["source_last_campaign_term"] != "crm" {
		t.Fatalf("source_last_campaign_term = %v, want crm", before["source_last_campaign_term"])
	}
	after := Traits(Summarize([]Touch{paid, touchAt("b", time.Hour, search("google"))}))
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("%s was sent before and is missing now: Segment would keep its old value", k)
		}
	}
	if v, ok := after["source_last_campaign_term"]; !ok || v != nil {
		t.Errorf("source_last_campaign_term = %v (present %v), want null", v, ok)
	}
	if after["source_first_campaign_term"] != "crm" {
		t.Errorf("source_first_campaign_term = %v, want crm", after["source_first_campaign_term"])
	}
}

func TestTrackProperties(t *testing.T) {
	tc := touchAt("m1", 0, gmail())
	tc.Referrer = "https://mail.google.com/"
	want := map[string]any{
		"referrer_type":   "email",
		"referrer_client": "gmail",
		"referrer_from":   "https://mail.google.com/",
		"referrer_link":   "https://shop.example/",
		"channel":         "Email",
		"url":             "https://shop.example/landing?from=m1",
		"referrer":        "https://mail.google.com/",
	}
	if got := TrackProperties(tc); !maps.Equal(got, want) {
		t.Errorf("TrackProperties = %v, want %v", got, want)
	}
}

// TestFlattenMatchesJSON checks the hand-written field list against the definition of
// the contract: flatten the JSON encoding, join nested keys with "_", drop empty strings.
// Descriptions are filled by reflection, so a field added to source.Description shows up
// here as a missing key even before anyone remembers to update flatFields.
func TestFlattenMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		var d source.Description
		fillRandom(t, rng, reflect.ValueOf(&d).Elem(), i%50 == 0)
		want := jsonFlatten(t, d)
		got := Flatten(d)
		if !maps.Equal(got, want) {
			t.Fatalf("description %+v:\nFlatten = %v\nJSON    = %v", d, got, want)
		}
	}
}

// TestFlattenCoversEveryField guards the other direction: with every field set, the
// JSON encoding and Flatten agree on the full key set.
func TestFlattenCoversEveryField(t *testing.T) {
	var d source.Description
	fillRandom(t, rand.New(rand.NewPCG(3, 4)), reflect.ValueOf(&d).Elem(), true)
	want := jsonFlatten(t, d)
	if got := Flatten(d); !maps.Equal(got, want) || len(got) != len(flatFields) {
		t.Fatalf("Flatten = %v (%d keys), JSON = %v (%d keys)", got, len(got), want, len(want))
	}
}

var randomValues = []string{"", "", "", "google", "gmail", "email", "Organic Search", "a_b", "ünïcode", " ", "0", "https://x.example/?q=1"}

func fillRandom(t *testing.T, rng *rand.Rand, v reflect.Value, full bool) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		s := randomValues[rng.IntN(len(randomValues))]
		if full && s == "" {
			s = "set"
		}
		v.SetString(s)
	case reflect.Struct:
		for i := range v.NumField() {
			fillRandom(t, rng, v.Field(i), full)
		}
	case reflect.Pointer:
		if !full && rng.IntN(4) == 0 {
			v.SetZero()
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fillRandom(t, rng, v.Elem(), full)
	default:
		t.Fatalf("source.Description gained a %s field: teach flatFields and this test about it", v.Kind())
	}
}

func jsonFlatten(t *testing.T, d source.Description) map[string]any {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := json.Unmarshal(b, &tree); err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if prefix != "" {
					k = prefix + "_" + k
				}
				walk(k, child)
			}
		case string:
			if v != "" {
				out[prefix] = v
			}
		default:
			t.Fatalf("unexpected JSON value %T at %s", v, prefix)
		}
	}
	walk("", tree)
	return out
}
