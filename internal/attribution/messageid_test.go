package attribution

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/attribution-dev/attribution/internal/source"
)

var (
	identifyIDPattern = regexp.MustCompile(`^attr-identify-[0-9a-f]{32}$`)
	trackIDPattern    = regexp.MustCompile(`^attr-track-[0-9a-f]{32}$`)
)

func TestIdentifyMessageID(t *testing.T) {
	touches := []Touch{touchAt("a", 0, search("google")), touchAt("b", day, direct())}
	s := Summarize(touches)
	id := IdentifyMessageID("user-1", s)
	if !identifyIDPattern.MatchString(id) || len(id) >= 100 {
		t.Fatalf("id %q: want attr-identify-<32 hex>, under 100 characters", id)
	}

	t.Run("stable", func(t *testing.T) {
		// Reversed input, fresh summary: the same traits, so the same id.
		again := Summarize([]Touch{touches[1], touches[0]})
		if got := IdentifyMessageID("user-1", again); got != id {
			t.Errorf("id changed without a change of traits: %s != %s", got, id)
		}
	})
	t.Run("same traits from other touches", func(t *testing.T) {
		// A different messageId is not part of the traits, so it must not change the id.
		other := Summarize([]Touch{touchAt("x", 0, search("google")), touchAt("y", day, direct())})
		for _, tc := range []*Touch{other.First, other.Last, other.LastNonDirect} {
			tc.URL = strings.Replace(tc.URL, "from=x", "from=a", 1)
			tc.URL = strings.Replace(tc.URL, "from=y", "from=b", 1)
		}
		if got := IdentifyMessageID("user-1", other); got != id {
			t.Errorf("id depends on more than the traits: %s != %s", got, id)
		}
	})
	t.Run("changes with the traits", func(t *testing.T) {
		changes := map[string]func(*Summary){
			"last timestamp": func(s *Summary) { s.Last.Timestamp = s.Last.Timestamp.Add(time.Millisecond) },
			"first url":      func(s *Summary) { s.First.URL += "&x=1" },
			"first engine":   func(s *Summary) { s.First.Description.Referrer.Engine = "bing" },
			"non-direct gone": func(s *Summary) {
				s.LastNonDirect = nil
			},
		}
		for name, change := range changes {
			c := Summarize(touches)
			change(&c)
			if got := IdentifyMessageID("user-1", c); got == id {
				t.Errorf("%s: id unchanged although traits changed", name)
			}
		}
	})
	t.Run("user is part of the id", func(t *testing.T) {
		if IdentifyMessageID("user-2", s) == id {
			t.Errorf("two users share an identify message id")
		}
	})
	t.Run("sub-millisecond change is not a trait change", func(t *testing.T) {
		c := Summarize(touches)
		c.Last.Timestamp = c.Last.Timestamp.Add(time.Microsecond)
		if got := IdentifyMessageID("user-1", c); got != id {
			t.Errorf("id changed although the formatted traits did not")
		}
	})
	t.Run("long inputs stay short", func(t *testing.T) {
		c := Summarize(touches)
		c.First.URL = strings.Repeat("u", 10000)
		if got := IdentifyMessageID(strings.Repeat("x", 1000), c); !identifyIDPattern.MatchString(got) {
			t.Errorf("id %q", got)
		}
	})
}

func TestTrackMessageID(t *testing.T) {
	tc := touchAt("msg-1", 0, search("google"))
	id := TrackMessageID("user-1", tc)
	if !trackIDPattern.MatchString(id) || len(id) >= 100 {
		t.Fatalf("id %q: want attr-track-<32 hex>, under 100 characters", id)
	}
	if TrackMessageID("user-1", tc) != id {
		t.Errorf("not stable")
	}
	same := tc
	same.Description = direct() // re-detection must not resend a touch
	if TrackMessageID("user-1", same) != id {
		t.Errorf("id depends on more than person and touch")
	}
	if TrackMessageID("user-2", tc) == id {
		t.Errorf("two people share a track message id")
	}
	other := tc
	other.MessageID = "msg-2"
	if TrackMessageID("user-1", other) == id {
		t.Errorf("two touches share a track message id")
	}
	// Length prefixes keep ("user-1", "msg-1") and ("user-1m", "sg-1") apart.
	shifted := tc
	shifted.MessageID = "sg-1"
	if TrackMessageID("user-1m", shifted) == id {
		t.Errorf("field boundaries are ambiguous")
	}
	if id == IdentifyMessageID("user-1", Summary{}) {
		t.Errorf("identify and track ids collide")
	}
}

func TestTrackMessageIDWithoutMessageID(t *testing.T) {
	a := touchAt("", 0, direct())
	b := touchAt("", day, direct())
	if TrackMessageID("p", a) == TrackMessageID("p", b) {
		t.Errorf("touches without message ids collapse into one message")
	}
}

// Every message id we ever sent is pinned here by value: Segment deduplicates by
// messageId, so a change to the hashing (a field added, an order changed, another
// encoding) would give every user's history new ids and re-send all of it. If this test
// fails, that is what the change does; it must be deliberate.
func TestMessageIDsKnownAnswers(t *testing.T) {
	at := time.Date(2026, 11, 29, 10, 42, 21, 805_000_000, time.UTC)
	first := Touch{
		MessageID:   "ajs-next-1732876941223-quickstart",
		AnonymousID: "4f0b5c0e-8c2d-4a8e-9a0c-2b6f3f4a9d11",
		Timestamp:   at,
		URL:         "https://www.acme.io/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
		Referrer:    "https://www.google.com/",
		Description: source.Description{
			Referrer: source.Referrer{Type: source.TypeSearch, Engine: "google"},
			Campaign: &source.Campaign{Source: "newsletter", Medium: "email", Campaign: "spring"},
			Channel:  "Email",
		},
	}
	last := Touch{
		MessageID:   "ajs-next-1732963341000-direct",
		AnonymousID: "4f0b5c0e-8c2d-4a8e-9a0c-2b6f3f4a9d11",
		Timestamp:   at.Add(24 * time.Hour),
		URL:         "https://www.acme.io/",
		Description: source.Description{Referrer: source.Referrer{Type: source.TypeDirect}, Channel: "Direct"},
	}
	summary := Summarize([]Touch{first, last})

	if got, want := IdentifyMessageID("jane.doe+crm@example.com", summary), "attr-identify-faf41e1dd1557087f7238a60a1a05a81"; got != want {
		t.Errorf("IdentifyMessageID = %q, want %q", got, want)
	}
	if got, want := TrackMessageID("jane.doe+crm@example.com", first), "attr-track-8a42fee95370eca5b08dbf9ee8267715"; got != want {
		t.Errorf("TrackMessageID = %q, want %q", got, want)
	}
}
