package attribution

import (
	"slices"
	"testing"

	"github.com/attribution-dev/attribution/internal/source"
)

func TestSummarize(t *testing.T) {
	d, s, n := direct(), search("google"), newsletter()
	tests := []struct {
		name                       string
		touches                    []Touch
		first, last, lastNonDirect string // message ids; "" means nil
	}{
		{name: "no touches"},
		{name: "one direct", touches: []Touch{touchAt("a", 0, d)}, first: "a", last: "a"},
		{name: "one search", touches: []Touch{touchAt("a", 0, s)}, first: "a", last: "a", lastNonDirect: "a"},
		{
			name:    "direct first",
			touches: []Touch{touchAt("a", 0, d), touchAt("b", day, s)},
			first:   "a", last: "b", lastNonDirect: "b",
		},
		{
			name:    "direct in the middle",
			touches: []Touch{touchAt("a", 0, s), touchAt("b", day, d), touchAt("c", 2*day, n)},
			first:   "a", last: "c", lastNonDirect: "c",
		},
		{
			name:    "direct last never overwrites the last non-direct",
			touches: []Touch{touchAt("a", 0, s), touchAt("b", day, n), touchAt("c", 2*day, d), touchAt("d", 3*day, d)},
			first:   "a", last: "d", lastNonDirect: "b",
		},
		{
			name:    "all direct",
			touches: []Touch{touchAt("a", 0, d), touchAt("b", day, d)},
			first:   "a", last: "b",
		},
		{
			name:    "unsorted input",
			touches: []Touch{touchAt("c", 2*day, d), touchAt("a", 0, s), touchAt("b", day, n)},
			first:   "a", last: "c", lastNonDirect: "b",
		},
		{
			name:    "same timestamp resolved by message id",
			touches: []Touch{touchAt("m2", 0, s), touchAt("m1", 0, n), touchAt("m3", 0, d)},
			first:   "m1", last: "m3", lastNonDirect: "m2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.touches)
			got := Summarize(in)
			checkTouchID(t, "First", got.First, tt.first)
			checkTouchID(t, "Last", got.Last, tt.last)
			checkTouchID(t, "LastNonDirect", got.LastNonDirect, tt.lastNonDirect)
			if !slices.EqualFunc(in, tt.touches, touchesEqual) {
				t.Errorf("Summarize modified its input")
			}
		})
	}
}

func checkTouchID(t *testing.T, field string, got *Touch, want string) {
	t.Helper()
	switch {
	case got == nil && want != "":
		t.Errorf("%s = nil, want %q", field, want)
	case got != nil && got.MessageID != want:
		t.Errorf("%s = %q, want %q", field, got.MessageID, want)
	}
}

func touchesEqual(a, b Touch) bool {
	return a.MessageID == b.MessageID && a.Timestamp.Equal(b.Timestamp)
}

func TestSummarizeDoesNotAlias(t *testing.T) {
	in := []Touch{touchAt("a", 0, search("google"))}
	s := Summarize(in)
	in[0].URL = "changed"
	if s.First.URL == "changed" || s.Last.URL == "changed" || s.LastNonDirect.URL == "changed" {
		t.Fatalf("summary aliases the input slice")
	}
	if s.First == s.Last {
		t.Fatalf("First and Last share one copy; changing one would change the other")
	}
}

func TestIsDirect(t *testing.T) {
	tests := []struct {
		name string
		d    source.Description
		want bool
	}{
		{"direct", direct(), true},
		{"empty description", source.Description{}, true},
		{"internal", source.Description{Referrer: source.Referrer{Type: source.TypeInternal}}, true},
		{"direct with empty campaign", source.Description{Referrer: source.Referrer{Type: source.TypeDirect}, Campaign: &source.Campaign{}}, true},
		{"direct with campaign", newsletter(), false},
		{"direct with only utm_term", source.Description{Referrer: source.Referrer{Type: source.TypeDirect}, Campaign: &source.Campaign{Term: "crm"}}, false},
		{"search", search("google"), false},
		{"email", gmail(), false},
		{"unknown referrer", source.Description{Referrer: source.Referrer{Type: source.TypeUnknown}}, false},
		{"link", source.Description{Referrer: source.Referrer{Type: source.TypeLink, From: "https://news.ycombinator.com/"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsDirect(tt.d); got != tt.want {
				t.Errorf("IsDirect = %v, want %v", got, tt.want)
			}
		})
	}
}
