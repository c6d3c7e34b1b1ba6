package source

import (
	"strings"
	"testing"
)

func TestCampaignDecoding(t *testing.T) {
	tests := []struct {
		name, query string
		want        *Campaign
	}{
		{"none", "", nil},
		{"other params only", "a=1&b=2", nil},
		{"empty values", "utm_source=&utm_medium=", nil},
		{"all five", "utm_source=s&utm_medium=m&utm_campaign=c&utm_term=t&utm_content=hero", &Campaign{Source: "s", Medium: "m", Campaign: "c", Term: "t", Content: "hero"}},
		{"not utm_count", "utm_count=x&utm_source=s", &Campaign{Source: "s"}},
		{"percent", "utm_campaign=spring%20sale", &Campaign{Campaign: "spring sale"}},
		{"plus", "utm_campaign=spring+sale", &Campaign{Campaign: "spring sale"}},
		{"encoded plus", "utm_campaign=a%2Bb", &Campaign{Campaign: "a+b"}},
		{"unicode", "utm_campaign=%E2%80%93%20caf%C3%A9%20%F0%9F%9A%80", &Campaign{Campaign: "– café 🚀"}},
		{"raw unicode", "utm_campaign=café", &Campaign{Campaign: "café"}},
		{"intercom example", "utm_source=feedburner&utm_medium=feed&utm_campaign=Feed%3A+contrast%2Fblog+%28The+Intercom+Blog%29", &Campaign{Source: "feedburner", Medium: "feed", Campaign: "Feed: contrast/blog (The Intercom Blog)"}},
		{"stray percent kept", "utm_campaign=100%+off", &Campaign{Campaign: "100% off"}},
		{"truncated escape", "utm_campaign=abc%E", &Campaign{Campaign: "abc%E"}},
		{"invalid utf-8 replaced", "utm_campaign=%FF", &Campaign{Campaign: "\uFFFD"}},
		{"first wins", "utm_source=a&utm_source=b", &Campaign{Source: "a"}},
		{"upper-case key", "UTM_SOURCE=a", &Campaign{Source: "a"}},
		{"case of value kept", "utm_source=LinkedIn", &Campaign{Source: "LinkedIn"}},
		{"fragment ignored", "utm_source=a#utm_medium=b", &Campaign{Source: "a"}},
		{"trimmed", "utm_source=%20a%20", &Campaign{Source: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(landing+"?"+tt.query, "").Campaign
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("campaign of %q = %+v, want %+v", tt.query, got, tt.want)
			}
		})
	}
}

func TestShoppingCampaign(t *testing.T) {
	for name, want := range map[string]bool{
		"shopping": true, "Summer_Shopping": true, "shop": true, "eshop": true, "summer-shop": true,
		"SHOP_NOW": true, "workshop": false, "bishop": false, "sale": false, "": false,
	} {
		if got := isShoppingCampaign(name); got != want {
			t.Errorf("isShoppingCampaign(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestLongInputs(t *testing.T) {
	long := strings.Repeat("a", 1<<20)
	for _, c := range [][2]string{
		{landing + "?utm_source=" + long, ""},
		{landing, "https://" + long + ".com/"},
		{landing, "https://www.google.com/search?q=" + long},
		{long, long},
		{landing + "?" + strings.Repeat("utm_x=1&", 100000), ""},
	} {
		d := Detect(c[0], c[1])
		if d.Referrer.Type == "" || d.Channel == "" {
			t.Errorf("empty description for a long input: %+v", d.Referrer)
		}
	}
}
