package attribution

import (
	"fmt"
	"math/rand/v2"
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

// benchPaths draws n paths of one to eight touches over the given number of channels.
func benchPaths(n, channels int) []Path {
	r := rand.New(rand.NewPCG(15, uint64(channels)))
	names := make([]string, channels)
	for i := range names {
		names[i] = fmt.Sprintf("Channel %03d", i)
	}
	paths := make([]Path, n)
	for i := range paths {
		p := &paths[i]
		for range 1 + r.IntN(8) {
			p.Channels = append(p.Channels, names[r.IntN(channels)])
		}
		conv := r.IntN(3)
		p.Conversions, p.Value, p.Nulls = float64(conv), float64(conv*(20+r.IntN(200))), float64(r.IntN(50))
	}
	return paths
}

func BenchmarkNewPathSet(b *testing.B) {
	paths := benchPaths(100_000, 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewPathSet(paths); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPathCredits is each path model over 100,000 prepared paths, and markov alone
// over more channels: its cost grows with the cube of the number of channels.
func BenchmarkPathCredits(b *testing.B) {
	for _, channels := range []int{20, 200} {
		s, err := NewPathSet(benchPaths(100_000, channels))
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range PathModels() {
			if channels > 20 && m != ModelMarkov {
				continue
			}
			b.Run(fmt.Sprintf("%s/paths=100000/channels=%d", m, channels), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Credits(m); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
