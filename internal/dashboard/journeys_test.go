package dashboard_test

import (
	"fmt"
	"time"
)

// Journeys the browser tests load: people arriving from search, newsletters, ads,
// LinkedIn, ChatGPT and direct visits over seven weeks, on one or two devices, who
// sign up and order (in dollars and euros) or only browse.
const (
	orderCompleted = "Order Completed"
	signedUp       = "Signed Up"
)

type visit struct{ url, referrer string }

var entries = []visit{
	{"https://www.acme.io/", "https://www.google.com/"},
	{"https://www.acme.io/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=spring", ""},
	{"https://www.acme.io/?gclid=Cj0KCQ", "https://www.google.com/"},
	{"https://www.acme.io/blog/attribution", "https://www.linkedin.com/"},
	{"https://www.acme.io/?utm_source=chatgpt.com", ""},
	{"https://www.acme.io/pricing", ""},
	{"https://www.acme.io/", "https://www.bing.com/"},
	{"https://www.acme.io/features?utm_source=facebook&utm_medium=paid_social&utm_campaign=launch", "https://l.facebook.com/"},
}

// journeyStart is the Monday seven weeks before today, so that the page's default range
// (the last 90 days) holds every journey.
func journeyStart(now time.Time) time.Time {
	d := time.Date(now.Year(), now.Month(), now.Day(), 9, 0, 0, 0, time.UTC).AddDate(0, 0, -49)
	for d.Weekday() != time.Monday {
		d = d.AddDate(0, 0, -1)
	}
	return d
}

// journeys builds the events of n people.
func journeys(n int, now time.Time) []map[string]any {
	start := journeyStart(now)
	var evs []map[string]any
	at := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	for i := range n {
		anon := fmt.Sprintf("anon-%03d", i)
		user := fmt.Sprintf("user-%03d@example.com", i)
		t := start.Add(time.Duration(i%42) * 24 * time.Hour).Add(time.Duration(i) * 17 * time.Minute)
		steps := 1 + i%4
		for s := range steps {
			v := entries[(i*3+s*5)%len(entries)]
			evs = append(evs, map[string]any{
				"type": "page", "messageId": fmt.Sprintf("page-%03d-%d", i, s), "anonymousId": anon, "timestamp": at(t),
				"properties": map[string]any{"url": v.url, "referrer": v.referrer},
				"context":    map[string]any{"page": map[string]any{"url": v.url, "referrer": v.referrer}, "userAgent": "Mozilla/5.0"},
			})
			t = t.Add(time.Duration(1+(i+s)%3) * 24 * time.Hour)
		}
		if i%5 == 4 {
			continue // browses, never signs up
		}
		evs = append(evs, map[string]any{
			"type": "identify", "messageId": fmt.Sprintf("identify-%03d", i), "anonymousId": anon, "userId": user,
			"timestamp": at(t), "traits": map[string]any{"email": user},
		}, map[string]any{
			"type": "track", "event": signedUp, "messageId": fmt.Sprintf("signup-%03d", i), "anonymousId": anon, "userId": user,
			"timestamp": at(t.Add(time.Minute)),
		})
		if i%3 == 0 {
			continue // signed up, no order yet
		}
		props := map[string]any{"revenue": float64(49 + (i*37)%450), "currency": "USD"}
		if i%7 == 1 {
			props = map[string]any{"value": fmt.Sprintf("%d.50", 90+i), "currency": "eur"}
		}
		evs = append(evs, map[string]any{
			"type": "track", "event": orderCompleted, "messageId": fmt.Sprintf("order-%03d", i), "anonymousId": anon, "userId": user,
			"timestamp": at(t.Add(2 * time.Hour)), "properties": props,
		})
	}
	return evs
}
