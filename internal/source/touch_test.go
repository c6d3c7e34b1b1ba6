package source

import (
	"testing"
	"time"
)

func TestIsNewTouch(t *testing.T) {
	direct := Detect(landing, "")
	google := Detect(landing, "https://www.google.com/")
	internal := Detect(landing, "https://www.example.org/other")
	newsletter := Detect(landing+"?utm_source=newsletter&utm_medium=email", "")
	blogLanding := Detect(landing+"?utm_source=blog", "https://blog.example.net/post")
	blogLater := Detect("https://www.example.org/pricing", "https://blog.example.net/post")
	otherBlog := Detect(landing, "https://other.example.net/")

	tests := []struct {
		name        string
		d           Description
		since       time.Duration
		hasPrevious bool
		latest      *Description
		want        bool
	}{
		{"first page view", google, 0, false, nil, true},
		{"first page view, direct", direct, 0, false, nil, true},
		{"internal never", internal, 0, false, nil, false},
		{"internal after a long gap", internal, 48 * time.Hour, true, &google, false},
		{"reload within visit", direct, 5 * time.Minute, true, &google, false},
		{"direct after the visit ended", direct, 31 * time.Minute, true, &google, true},
		{"direct exactly at the timeout", direct, VisitTimeout, true, &google, true},
		{"direct with a campaign", newsletter, time.Minute, true, &google, true},
		{"same referrer resent by a SPA", google, time.Minute, true, &google, false},
		{"same source, new page, campaign dropped", blogLater, 2 * time.Minute, true, &blogLanding, false},
		{"other referrer within visit", otherBlog, time.Minute, true, &google, true},
		{"same referrer after the visit ended", google, time.Hour, true, &google, true},
		{"within visit but no touch yet", google, time.Minute, true, nil, true},
		{"out of order, close", direct, -time.Minute, true, &google, false},
		{"out of order, far", direct, -time.Hour, true, &google, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsNewTouch(tt.d, tt.since, tt.hasPrevious, tt.latest); got != tt.want {
				t.Errorf("IsNewTouch = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSameSource(t *testing.T) {
	a := Detect(landing+"?utm_source=x&utm_campaign=a", "https://blog.example.net/")
	b := Detect(landing+"?utm_source=x&utm_campaign=b", "https://blog.example.net/")
	if SameSource(a, b) {
		t.Error("different campaigns are different sources")
	}
	if !SameSource(Detect("https://www.example.org/a", "https://blog.example.net/"), a) {
		t.Error("a page view without campaign from the same referrer is the same source")
	}
	if SameSource(a, Detect("https://www.example.org/a", "https://blog.example.net/")) {
		t.Error("a campaign after an untagged touch is new information")
	}
}
