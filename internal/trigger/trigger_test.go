package trigger_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/segment"
	"github.com/attribution-dev/attribution/internal/trigger"
)

var routes = []string{trigger.IdentifyUserPath, trigger.TrackUserPath, trigger.TrackAnonymousPath}

func TestIdentifySendsFlattenedFirstAndLastTraits(t *testing.T) {
	e := newEnv(t)
	// Before signing up the visitor came from Google on one device; later, signed in,
	// a direct visit and then the newsletter.
	e.link("u-1", "anon-a")
	e.put(
		search("p1", "anon-a", "", 0),
		direct("p2", "anon-b", "u-1", 24*time.Hour),
		newsletter("p3", "anon-b", "u-1", 48*time.Hour),
		search("other", "anon-c", "u-2", time.Hour), // someone else
	)

	status, out := call(t, e.h, trigger.IdentifyUserPath, "u-1")
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, "u-1", out.UserID)
	assert.False(t, out.DryRun)
	assert.Empty(t, out.Failed)
	require.Len(t, out.Sent, 1)

	got := e.fake.Messages()
	require.Len(t, got, 1)
	m := got[0]
	assert.Equal(t, "identify", m.Type)
	assert.Equal(t, "u-1", m.UserID)
	assert.Empty(t, m.AnonymousID)
	assert.Equal(t, out.Sent[0].MessageID, m.MessageID)
	assert.True(t, strings.HasPrefix(m.MessageID, attribution.IdentifyMessageIDPrefix), m.MessageID)
	assert.Equal(t, "2026-12-01T09:00:00Z", m.Timestamp, "the last touch's time, so the message is deterministic")

	want := map[string]any{
		"source_first_referrer_type":             "search",
		"source_first_referrer_engine":           "google",
		"source_first_channel":                   "Organic Search",
		"source_first_timestamp":                 "2026-11-29T09:00:00.000Z",
		"source_first_url":                       "https://acme.io/",
		"source_first_referrer":                  "https://www.google.com/",
		"source_last_referrer_type":              "direct",
		"source_last_campaign_source":            "newsletter",
		"source_last_campaign_medium":            "email",
		"source_last_campaign_campaign":          "spring",
		"source_last_channel":                    "Email",
		"source_last_timestamp":                  "2026-12-01T09:00:00.000Z",
		"source_last_url":                        "https://acme.io/?utm_source=newsletter&utm_medium=email&utm_campaign=spring",
		"source_last_non_direct_campaign_source": "newsletter",
	}
	for k, v := range want {
		assert.Equal(t, v, m.Traits[k], k)
	}
	// Segment merges traits: what the last touch lacks is sent as null, so it clears
	// whatever an earlier last touch left downstream.
	assert.Contains(t, m.Traits, "source_last_referrer")
	assert.Nil(t, m.Traits["source_last_referrer"], "a direct visit has no referrer")
	assert.Equal(t, m.Traits, out.Sent[0].Traits, "the answer shows exactly what was sent")

	// The answer's messageId is the one attribution defines for these touches.
	touches, err := e.h.People.UserTouches(context.Background(), "u-1")
	require.NoError(t, err)
	require.Len(t, touches, 3, "the linked anonymous id's touch is included")
	assert.Equal(t, attribution.IdentifyMessageID("u-1", attribution.Summarize(touches)), m.MessageID)
}

func TestTrackSendsOneMessagePerTouchWithItsHistoricTimestamp(t *testing.T) {
	e := newEnv(t)
	e.link("u-1", "anon-a")
	e.put(
		search("p1", "anon-a", "", 0),
		direct("p2", "anon-b", "u-1", 24*time.Hour),
		newsletter("p3", "anon-b", "u-1", 48*time.Hour),
	)

	t.Run("user", func(t *testing.T) {
		status, out := call(t, e.h, trigger.TrackUserPath, "u-1")
		require.Equal(t, http.StatusOK, status, out)
		require.Len(t, out.Sent, 3)
		got := e.fake.Messages()
		require.Len(t, got, 3)
		assert.Equal(t, messageIDs(out.Sent), []string{got[0].MessageID, got[1].MessageID, got[2].MessageID}, "oldest first")
		for i, wantTime := range []string{"2026-11-29T09:00:00Z", "2026-11-30T09:00:00Z", "2026-12-01T09:00:00Z"} {
			assert.Equal(t, "track", got[i].Type)
			assert.Equal(t, config.DefaultSourceEvent, got[i].Event)
			assert.Equal(t, "u-1", got[i].UserID)
			assert.Equal(t, wantTime, got[i].Timestamp)
		}
		assert.Equal(t, "anon-a", got[0].AnonymousID, "the anonymous id the touch was recorded under")
		assert.Equal(t, "anon-b", got[1].AnonymousID)
		assert.Equal(t, map[string]any{
			"referrer_type": "search", "referrer_engine": "google", "channel": "Organic Search",
			"url": "https://acme.io/", "referrer": "https://www.google.com/",
		}, got[0].Properties)
		assert.Equal(t, "newsletter", got[2].Properties["campaign_source"])
		assert.Equal(t, "direct", got[2].Properties["referrer_type"])
		assert.NotContains(t, got[2].Properties, "source_last_campaign_source", "track properties are unprefixed")
	})

	t.Run("anonymous", func(t *testing.T) {
		before := len(e.fake.Messages())
		status, out := call(t, e.h, trigger.TrackAnonymousPath, "anon-b")
		require.Equal(t, http.StatusOK, status, out)
		assert.Equal(t, "anon-b", out.AnonymousID)
		got := e.fake.Messages()[before:]
		require.Len(t, got, 2)
		for _, m := range got {
			assert.Equal(t, "anon-b", m.AnonymousID)
			assert.Empty(t, m.UserID, "an anonymous route sends the anonymous id only")
		}
		assert.Equal(t, "2026-11-30T09:00:00Z", got[0].Timestamp)
		assert.Equal(t, "2026-12-01T09:00:00Z", got[1].Timestamp)
	})
}

func TestUserAndAnonymousTracksOfOneStringDoNotShareMessageIDs(t *testing.T) {
	e := newEnv(t)
	// An id that is both a userId and an anonymousId (it happens with server-side ids).
	e.put(search("p1", "same", "same", 0))
	status, user := call(t, e.h, trigger.TrackUserPath, "same")
	require.Equal(t, http.StatusOK, status, user)
	status, anon := call(t, e.h, trigger.TrackAnonymousPath, "same")
	require.Equal(t, http.StatusOK, status, anon)
	require.Len(t, user.Sent, 1)
	require.Len(t, anon.Sent, 1)
	assert.NotEqual(t, user.Sent[0].MessageID, anon.Sent[0].MessageID)
	assert.Zero(t, e.fake.Duplicates())
}

func TestTriggeringTwiceSendsTheSameMessageIDs(t *testing.T) {
	e := newEnv(t)
	e.link("u-1", "anon-a")
	e.put(search("p1", "anon-a", "", 0), direct("p2", "anon-a", "u-1", time.Hour), newsletter("p3", "anon-b", "u-1", 2*time.Hour))
	for _, tc := range []struct{ path, id string }{
		{trigger.IdentifyUserPath, "u-1"}, {trigger.TrackUserPath, "u-1"}, {trigger.TrackAnonymousPath, "anon-a"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			before := len(e.fake.Messages())
			_, first := call(t, e.h, tc.path, tc.id)
			_, second := call(t, e.h, tc.path, tc.id)
			require.NotEmpty(t, first.Sent)
			assert.Equal(t, messageIDs(first.Sent), messageIDs(second.Sent))
			got := e.fake.Messages()[before:]
			require.Len(t, got, 2*len(first.Sent))
			half := len(first.Sent)
			for i := range half {
				assert.JSONEq(t, string(got[i].Raw), string(got[half+i].Raw), "the same bytes each time")
			}
		})
	}
	assert.Equal(t, 1+3+2, e.fake.Duplicates(), "Segment would drop every message of the second round")
}

func TestUnknownPersonIs404(t *testing.T) {
	e := newEnv(t)
	e.put(search("p1", "anon-a", "u-1", 0))
	for _, path := range routes {
		t.Run(path, func(t *testing.T) {
			status, out := call(t, e.h, path, "nobody")
			assert.Equal(t, http.StatusNotFound, status)
			assert.Contains(t, out.Error, `"nobody"`)
		})
	}
	assert.Empty(t, e.fake.Requests(), "nothing is sent for nobody")
}

func TestBadIDIs400(t *testing.T) {
	e := newEnv(t)
	for name, id := range map[string]string{
		"empty":     "",
		"oversized": strings.Repeat("x", event.MaxIDLength+1),
		"not UTF-8": "\xff\xfe",
	} {
		for _, path := range routes {
			t.Run(name+" "+path, func(t *testing.T) {
				status, out := call(t, e.h, path, id)
				assert.Equal(t, http.StatusBadRequest, status)
				assert.NotEmpty(t, out.Error)
			})
		}
	}
}

func TestSegmentRefusalIs502WithDetailsPerMessage(t *testing.T) {
	e := newEnv(t)
	e.put(search("p1", "anon-a", "u-1", 0), direct("p2", "anon-a", "u-1", time.Hour))

	t.Run("400 is final", func(t *testing.T) {
		e.fake.FailNext(1, http.StatusBadRequest, "")
		status, out := call(t, e.h, trigger.TrackUserPath, "u-1")
		require.Equal(t, http.StatusBadGateway, status, out)
		assert.Equal(t, "2 of 2 messages were not sent to Segment", out.Error)
		assert.Empty(t, out.Sent)
		require.Len(t, out.Failed, 2)
		for _, f := range out.Failed {
			assert.NotEmpty(t, f.MessageID)
			assert.Equal(t, http.StatusBadRequest, f.StatusCode)
			assert.Equal(t, 1, f.Attempts)
			assert.Contains(t, f.Error, "400")
			assert.NotEmpty(t, f.Properties, "what was not sent is shown too")
		}
	})

	t.Run("500 beyond the retries", func(t *testing.T) {
		e.fake.FailNext(3, http.StatusInternalServerError, "")
		status, out := call(t, e.h, trigger.IdentifyUserPath, "u-1")
		require.Equal(t, http.StatusBadGateway, status, out)
		require.Len(t, out.Failed, 1)
		assert.Equal(t, http.StatusInternalServerError, out.Failed[0].StatusCode)
		assert.Equal(t, 3, out.Failed[0].Attempts)
		assert.Contains(t, out.Failed[0].Error, "giving up after 3 attempts")
	})

	t.Run("a 500 then success is a 200", func(t *testing.T) {
		e.fake.FailNext(1, http.StatusInternalServerError, "")
		status, out := call(t, e.h, trigger.IdentifyUserPath, "u-1")
		require.Equal(t, http.StatusOK, status, out)
		assert.Len(t, out.Sent, 1)
	})
}

func TestPartialRefusalListsBothSentAndFailed(t *testing.T) {
	// A fake sender that refuses every other message: the answer must say which.
	touches := []attribution.Touch{search("p1", "a", "", 0), direct("p2", "a", "", time.Hour), newsletter("p3", "a", "", 2*time.Hour)}
	h := &trigger.Handler{People: fixedPeople{touches: touches}, Sender: alternate{}, Log: quiet}
	status, out := call(t, h, trigger.TrackAnonymousPath, "a")
	require.Equal(t, http.StatusBadGateway, status)
	assert.Equal(t, "1 of 3 messages were not sent to Segment", out.Error)
	assert.Len(t, out.Sent, 2)
	require.Len(t, out.Failed, 1)
	assert.Equal(t, "refused", out.Failed[0].Error)
}

func TestStorageErrorIs500WithoutDetail(t *testing.T) {
	h := &trigger.Handler{People: fixedPeople{err: errors.New("dynamodb: secret table name exploded")}, Sender: alternate{}, Log: quiet}
	for _, path := range routes {
		status, out := call(t, h, path, "u-1")
		assert.Equal(t, http.StatusInternalServerError, status)
		assert.Equal(t, "could not read touches", out.Error)
	}
	h.People = fixedPeople{err: fmt.Errorf("resolve: %w", trigger.ErrNotFound)}
	status, _ := call(t, h, trigger.TrackUserPath, "u-1")
	assert.Equal(t, http.StatusNotFound, status, "ErrNotFound is a 404")
}

func TestDryRunWritesTheOutboxAndSaysSo(t *testing.T) {
	e := newEnv(t)
	e.put(search("p1", "anon-a", "u-1", 0))
	outbox := filepath.Join(t.TempDir(), "data", "segment-outbox.jsonl")
	e.h.Sender = newClient(t, segment.Config{OutboxPath: outbox})

	status, out := call(t, e.h, trigger.IdentifyUserPath, "u-1")
	require.Equal(t, http.StatusOK, status, out)
	assert.True(t, out.DryRun)
	require.Len(t, out.Sent, 1)
	b, err := os.ReadFile(outbox)
	require.NoError(t, err)
	assert.Contains(t, string(b), out.Sent[0].MessageID)
	assert.Contains(t, string(b), `"source_first_referrer_type":"search"`)
	assert.Empty(t, e.fake.Requests(), "nothing reaches Segment in a dry run")
}

func TestThreeThousandTouchesGoInAsFewRequestsAsTheLimitsAllow(t *testing.T) {
	e := newEnv(t)
	touches := make([]attribution.Touch, 3000)
	for i := range touches {
		tc := search(fmt.Sprintf("p%05d", i), fmt.Sprintf("anon-%d", i%3), "u-big", time.Duration(i)*time.Minute)
		tc.URL = fmt.Sprintf("https://acme.io/docs/page-%d?ref=%s", i, strings.Repeat("x", i%400))
		touches[i] = tc
	}
	e.putMany(touches)

	status, out := call(t, e.h, trigger.TrackUserPath, "u-big")
	require.Equal(t, http.StatusOK, status, out.Error)
	assert.Len(t, out.Sent, 3000)
	assert.Empty(t, out.Failed)

	assert.Zero(t, e.fake.Dropped(), "no request above 2,500 messages")
	assert.Len(t, e.fake.UniqueMessageIDs(), 3000, "no loss")
	reqs := e.fake.Requests()
	bytes, count := 0, 0
	for _, r := range reqs {
		require.Equal(t, http.StatusOK, r.Status, r.Error)
		bytes += r.Bytes
		count += r.Messages
	}
	assert.Equal(t, 3000, count)
	// No packing beats ceil(bytes / 500,000) requests nor ceil(messages / 2,500).
	lower := max((bytes+segment.MaxRequestBytes-1)/segment.MaxRequestBytes, 2)
	assert.LessOrEqual(t, len(reqs), lower+1, "requests %d, lower bound %d, %d bytes", len(reqs), lower, bytes)
	t.Logf("%d messages, %d bytes, %d requests (lower bound %d)", count, bytes, len(reqs), lower)
}

type fixedPeople struct {
	touches []attribution.Touch
	err     error
}

func (p fixedPeople) UserTouches(context.Context, string) ([]attribution.Touch, error) {
	return p.touches, p.err
}

func (p fixedPeople) AnonymousTouches(context.Context, string) ([]attribution.Touch, error) {
	return p.touches, p.err
}

// alternate "sends" even-indexed messages and refuses odd ones.
type alternate struct{}

func (alternate) Send(_ context.Context, msgs []segment.Message) []segment.Result {
	out := make([]segment.Result, len(msgs))
	for i, m := range msgs {
		out[i] = segment.Result{MessageID: m.MessageID, Sent: i%2 == 0}
		if i%2 == 1 {
			out[i].Err = errors.New("refused")
		}
	}
	return out
}

func TestATouchFoundUnderTwoIDsIsSentOnce(t *testing.T) {
	e := newEnv(t)
	// p2 and p3 carried both ids, so ByUser and ByVisitor(anon-b) both find them.
	e.link("u-1", "anon-a", "anon-b", "anon-never-seen")
	e.put(search("p1", "anon-a", "", 0), direct("p2", "anon-b", "u-1", time.Hour), newsletter("p3", "anon-b", "u-1", 2*time.Hour))
	touches, err := e.h.People.UserTouches(context.Background(), "u-1")
	require.NoError(t, err)
	var ids []string
	for _, tc := range touches {
		ids = append(ids, tc.MessageID)
	}
	assert.Equal(t, []string{"p1", "p2", "p3"}, ids, "oldest first, each once")
}

// A page URL can be far longer than Segment's 32 KB message limit allows three times over
// (the webhook stores events up to DynamoDB's 400 KB). The messages must still be sent,
// with the longest values shortened, rather than refused for every push, forever.
func TestOversizedTouchValuesAreShortenedToFitSegmentsLimit(t *testing.T) {
	e := newEnv(t)
	long := search("p1", "anon-a", "u-1", 0)
	long.URL = "https://acme.io/landing?ref=" + strings.Repeat("x", 40_000)
	long.Referrer = "https://www.google.com/search?q=" + strings.Repeat("é", 10_000)
	e.put(long, newsletter("p2", "anon-a", "u-1", time.Hour))

	for _, path := range []string{trigger.IdentifyUserPath, trigger.TrackUserPath} {
		status, out := call(t, e.h, path, "u-1")
		if !assert.Equal(t, http.StatusOK, status, path) {
			for _, f := range out.Failed {
				t.Logf("%s: not sent: %s", path, f.Error)
			}
		}
	}
	var identify map[string]any
	for _, m := range e.fake.Messages() {
		assert.LessOrEqual(t, len(m.Raw), segment.MaxMessageBytes)
		assert.True(t, utf8.Valid(m.Raw), "%s %s was cut inside a character", m.Type, m.MessageID)
		if m.Type == "identify" {
			identify = m.Traits
		}
	}
	require.NotNil(t, identify, "the identify reached Segment")
	url, _ := identify["source_first_url"].(string)
	assert.True(t, strings.HasPrefix(url, "https://acme.io/landing?ref=xxx"), "the start of a long URL is kept: %.60s", url)
	assert.True(t, strings.HasSuffix(url, "…"), "a shortened value says so")
	assert.Equal(t, "newsletter", identify["source_last_campaign_source"], "short values are untouched")
	assert.Equal(t, "https://acme.io/?utm_source=newsletter&utm_medium=email&utm_campaign=spring", identify["source_last_url"])
}
