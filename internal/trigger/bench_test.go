package trigger_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
	"github.com/attribution-dev/attribution/internal/trigger"
)

// benchTrigger runs one route for a person with n touches held in memory, against the
// fake Segment on loopback: message building, encoding, packing, HTTP and the answer's
// JSON. Storage is left out so the number is the trigger's own cost.
func benchTrigger(b *testing.B, path string, n int) {
	fake := segmenttest.NewServer(b, writeKey)
	touches := make([]attribution.Touch, n)
	for i := range touches {
		touches[i] = search(fmt.Sprintf("p%05d", i), fmt.Sprintf("anon-%d", i%3), "u-1", time.Duration(i)*time.Minute)
	}
	h := &trigger.Handler{
		People: fixedPeople{touches: touches},
		Sender: newClient(b, segment.Config{WriteKey: writeKey, Endpoint: fake.URL}),
		Log:    quiet,
	}
	b.ReportAllocs()
	msgs := 0
	for b.Loop() {
		status, out := call(b, h, path, "u-1")
		if status != http.StatusOK {
			b.Fatalf("status %d: %s", status, out.Error)
		}
		msgs += len(out.Sent)
	}
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkIdentifyUser1000Touches(b *testing.B) { benchTrigger(b, trigger.IdentifyUserPath, 1000) }
func BenchmarkTrackUser1000Touches(b *testing.B)    { benchTrigger(b, trigger.TrackUserPath, 1000) }
