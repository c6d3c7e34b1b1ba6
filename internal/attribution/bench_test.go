package attribution

import (
	"fmt"
	"testing"
	"time"

	"github.com/attribution-dev/attribution/internal/source"
)

// benchTouches is a realistic long journey: n touches an hour apart cycling through
// search, direct, a tagged newsletter, email and social.
func benchTouches(n int) []Touch {
	pool := []source.Description{
		search("google"), direct(), newsletter(), gmail(),
		{Referrer: source.Referrer{Type: source.TypeSocial, Network: "linkedin"}, Channel: "Organic Social"},
	}
	touches := make([]Touch, n)
	for i := range touches {
		touches[i] = touchAt(fmt.Sprintf("msg-%04d", i), time.Duration(i)*time.Hour, pool[i%len(pool)])
		touches[i].Referrer = "https://www.example.com/"
	}
	return touches
}

func BenchmarkTraits(b *testing.B) {
	s := Summarize(benchTouches(10))
	b.ReportAllocs()
	for b.Loop() {
		_ = Traits(s)
	}
}

func BenchmarkTrackProperties(b *testing.B) {
	t := benchTouches(3)[2]
	b.ReportAllocs()
	for b.Loop() {
		_ = TrackProperties(t)
	}
}

func BenchmarkSummarize(b *testing.B) {
	touches := benchTouches(100)
	b.ReportAllocs()
	for b.Loop() {
		_ = Summarize(touches)
	}
}

func BenchmarkIdentifyMessageID(b *testing.B) {
	s := Summarize(benchTouches(10))
	b.ReportAllocs()
	for b.Loop() {
		_ = IdentifyMessageID("user-1", s)
	}
}

func BenchmarkCredits(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		touches := benchTouches(n)
		for _, m := range Models() {
			b.Run(fmt.Sprintf("%s/touches=%d", m, n), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Credits(m, touches, Options{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
