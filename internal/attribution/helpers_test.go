package attribution

import (
	"time"

	"github.com/attribution-dev/attribution/internal/source"
)

// t0 is the time of day 0 in the hand-computed examples.
var t0 = time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)

const day = 24 * time.Hour

func touchAt(id string, at time.Duration, d source.Description) Touch {
	return Touch{
		MessageID:   id,
		AnonymousID: "anon-1",
		Timestamp:   t0.Add(at),
		URL:         "https://shop.example/landing?from=" + id,
		Description: d,
	}
}

func direct() source.Description {
	return source.Description{Referrer: source.Referrer{Type: source.TypeDirect}, Channel: "Direct"}
}

func search(engine string) source.Description {
	return source.Description{Referrer: source.Referrer{Type: source.TypeSearch, Engine: engine}, Channel: "Organic Search"}
}

// newsletter is the contract's example of a tagged link opened in a desktop mail app:
// no referrer, but a campaign.
func newsletter() source.Description {
	return source.Description{
		Referrer: source.Referrer{Type: source.TypeDirect},
		Campaign: &source.Campaign{Source: "newsletter", Medium: "email", Campaign: "spring"},
		Channel:  "Email",
	}
}

func gmail() source.Description {
	return source.Description{
		Referrer: source.Referrer{Type: source.TypeEmail, Client: "gmail", From: "https://mail.google.com/", Link: "https://shop.example/"},
		Channel:  "Email",
	}
}

// Credit labels of the descriptions above.
var (
	creditDirect     = Credit{Channel: "Direct", Source: "(direct)", Campaign: "(none)"}
	creditSearch     = Credit{Channel: "Organic Search", Source: "google", Campaign: "(none)"}
	creditNewsletter = Credit{Channel: "Email", Source: "newsletter", Campaign: "spring"}
)

func withCredit(c Credit, v float64) Credit {
	c.Credit = v
	return c
}
