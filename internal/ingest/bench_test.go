package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/ingest"
	"github.com/attribution-dev/attribution/internal/store"
)

// itemStore marshals each event to its DynamoDB item and keeps nothing: the benchmark
// measures the webhook's own work (verify, parse, validate, marshal), not the network.
type itemStore struct{}

func (itemStore) CheckSize(ev event.Event) error {
	return store.NewEvents(nil, "").CheckSize(ev)
}

func (itemStore) Put(_ context.Context, ev event.Event) (bool, error) {
	_ = store.EventItem(ev, 0)
	return true, nil
}

func BenchmarkWebhook(b *testing.B) {
	single := string(testdataB(b, "page.json"))
	var parts []string
	for i := range 4000 {
		parts = append(parts, strings.Replace(single, `"messageId": "ajs-next-`, fmt.Sprintf(`"messageId": "%d-`, i), 1))
	}
	for _, tc := range []struct {
		name, body string
		events     int
	}{{"single", single, 1}, {"batch4000", "[" + strings.Join(parts, ",") + "]", 4000}} {
		b.Run(tc.name, func(b *testing.B) {
			h := &ingest.Handler{Store: itemStore{}, Secret: secret, Log: quiet}
			req := events.APIGatewayV2HTTPRequest{Body: tc.body, Headers: map[string]string{"x-signature": ingest.Sign([]byte(tc.body), secret)}}
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.body)))
			for b.Loop() {
				resp, err := h.Handle(context.Background(), req)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("status %d: %v %s", resp.StatusCode, err, resp.Body[:min(200, len(resp.Body))])
				}
			}
			b.ReportMetric(float64(tc.events*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
