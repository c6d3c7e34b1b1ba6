package attribution

import (
	"regexp"
	"strings"
	"testing"
	"time"
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
