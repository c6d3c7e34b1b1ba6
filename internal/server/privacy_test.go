package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/config"
	"github.com/attribution-dev/attribution/internal/event"
	"github.com/attribution-dev/attribution/internal/segment/segmenttest"
	"github.com/attribution-dev/attribution/internal/server"
	"github.com/attribution-dev/attribution/internal/store"
)

const privacyKey = "k-privacy"

// privacyEnv is the whole local stack with an API key and a fake Segment, and direct
// access to the tables for verification.
type privacyEnv struct {
	t      *testing.T
	url    string
	stack  *server.Stack
	db     *dynamodb.Client
	tables store.Tables
	fake   *segmenttest.Server
}

func newPrivacyEnv(t *testing.T) *privacyEnv {
	t.Helper()
	fake := segmenttest.NewServer(t, "wk")
	l := launch(t, t.TempDir(), func(cfg *config.Config) {
		cfg.APIKey, cfg.SegmentWriteKey, cfg.SegmentEndpoint = privacyKey, "wk", fake.URL
	})
	return &privacyEnv{t: t, url: l.url, stack: l.stack, db: l.db, tables: l.tables, fake: fake}
}

// post sends events as one webhook body and returns the decoded answer.
func (e *privacyEnv) post(evs ...map[string]any) map[string]any {
	e.t.Helper()
	body, err := json.Marshal(evs)
	require.NoError(e.t, err)
	resp, err := http.Post(e.url+"/events", "application/json", bytes.NewReader(body))
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var out map[string]any
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(e.t, http.StatusOK, resp.StatusCode, out)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(e.t, e.stack.Stream.Idle(ctx))
	return out
}

func (e *privacyEnv) do(method, path, key string) (int, map[string]any) {
	e.t.Helper()
	return call(e.t, method, e.url+path, key)
}

// scanFor returns, per table, the items in which any string anywhere contains one of
// needles. A Scan is for this test only; the product never scans.
func (e *privacyEnv) scanFor(needles ...string) map[string][]string {
	e.t.Helper()
	found := map[string][]string{}
	for _, table := range []string{e.tables.Events, e.tables.Touches, e.tables.Identities} {
		p := dynamodb.NewScanPaginator(e.db, &dynamodb.ScanInput{TableName: aws.String(table)})
		for p.HasMorePages() {
			page, err := p.NextPage(context.Background())
			require.NoError(e.t, err)
			for _, item := range page.Items {
				text := strings.Join(strs(&ddbtypes.AttributeValueMemberM{Value: item}), "\x00")
				for _, n := range needles {
					if strings.Contains(text, n) {
						found[table] = append(found[table], n+" in "+text)
					}
				}
			}
		}
	}
	return found
}

func strs(v ddbtypes.AttributeValue) []string {
	switch v := v.(type) {
	case *ddbtypes.AttributeValueMemberS:
		return []string{v.Value}
	case *ddbtypes.AttributeValueMemberM:
		var out []string
		for k, x := range v.Value {
			out = append(out, k)
			out = append(out, strs(x)...)
		}
		return out
	case *ddbtypes.AttributeValueMemberL:
		var out []string
		for _, x := range v.Value {
			out = append(out, strs(x)...)
		}
		return out
	}
	return nil
}

var privacyT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func at(h int) string { return privacyT0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339Nano) }

func pageEv(id, anon, user string, h int, pageURL, referrer string) map[string]any {
	ev := map[string]any{"type": "page", "messageId": id, "timestamp": at(h),
		"properties": map[string]any{"url": pageURL, "referrer": referrer}}
	if anon != "" {
		ev["anonymousId"] = anon
	}
	if user != "" {
		ev["userId"] = user
	}
	return ev
}

func identifyEv(id, anon, user string, h int) map[string]any {
	return map[string]any{"type": "identify", "messageId": id, "anonymousId": anon, "userId": user, "timestamp": at(h),
		"traits": map[string]any{"email": user, "plan": "pro"}, "context": map[string]any{"ip": "203.0.113.42"}}
}

const alice = "alice@example.com"

// aliceIDs are every id of Alice's: her userId, her former userId (aliased), her
// laptop, phone and tablet. Bob's devices are "bob-mobile" and the shared "family-pc".
var aliceIDs = []string{alice, "old-alice", "laptop", "phone", "tablet"}

// seedPeople plays Alice's and Bob's histories through the webhook and the stream.
func seedPeople(e *privacyEnv) (aliceEvents []map[string]any) {
	e.t.Helper()
	aliceEvents = []map[string]any{
		// Before the rename, Alice was "old-alice" on her tablet, and used a server-side page call.
		pageEv("a1", "tablet", "", 0, "https://acme.io/", "https://www.google.com/"),
		identifyEv("a2", "tablet", "old-alice", 1),
		pageEv("a3", "", "old-alice", 2, "https://acme.io/?utm_source=partner&utm_medium=referral", ""),
		// Laptop and phone, then she identifies on both.
		pageEv("a4", "laptop", "", 10, "https://acme.io/", "https://www.bing.com/"),
		pageEv("a5", "phone", "", 20, "https://acme.io/?utm_source=newsletter&utm_medium=email", ""),
		identifyEv("a6", "phone", alice, 21),
		identifyEv("a7", "laptop", alice, 22),
		{"type": "alias", "messageId": "a8", "previousId": "old-alice", "userId": alice, "anonymousId": "phone", "timestamp": at(23)},
		{"type": "track", "messageId": "a9", "event": "Upgraded", "userId": alice, "timestamp": at(24), "properties": map[string]any{"email": alice}},
		// The family computer: Alice signs in on it too, and browses signed in.
		identifyEv("a10", "family-pc", alice, 31),
		pageEv("a11", "family-pc", alice, 32, "https://acme.io/account", "https://mail.google.com/"),
	}
	// Identify and alias go first so the links exist when Alice's pages are detected.
	e.post(aliceEvents[:3]...)
	e.post(aliceEvents[3:9]...)
	e.post(
		// Bob owns family-pc and bob-mobile; the family PC's anonymous browsing is his too.
		pageEv("b1", "family-pc", "", 30, "https://acme.io/", "https://duckduckgo.com/"),
		identifyEv("b2", "family-pc", "bob", 30),
		pageEv("b3", "bob-mobile", "", 40, "https://acme.io/", "https://www.facebook.com/"),
		identifyEv("b4", "bob-mobile", "bob", 41),
		pageEv("b5", "family-pc", "bob", 42, "https://acme.io/pricing", "https://www.linkedin.com/"),
	)
	e.post(aliceEvents[9:]...)

	// A real-time feature's state item under Alice's partition.
	_, err := e.db.PutItem(context.Background(), &dynamodb.PutItemInput{
		TableName: aws.String(e.tables.Identities),
		Item: map[string]ddbtypes.AttributeValue{
			store.AttrUserID:      &ddbtypes.AttributeValueMemberS{Value: alice},
			store.AttrAnonymousID: &ddbtypes.AttributeValueMemberS{Value: "#realtime"},
			"lastPushed":          &ddbtypes.AttributeValueMemberS{Value: "source_first_referrer_type=search"},
		},
	})
	require.NoError(e.t, err)
	return aliceEvents
}

func TestEraseUserRemovesEverythingAndSuppressesHerForever(t *testing.T) {
	e := newPrivacyEnv(t)
	aliceEvents := seedPeople(e)
	userPath := "/api/user/" + url.PathEscape(alice)

	// Preconditions: the stack knows Alice through every device, and Bob.
	status, before := e.do(http.MethodGet, userPath, privacyKey)
	require.Equal(t, http.StatusOK, status, before)
	require.ElementsMatch(t, []any{"family-pc", "laptop", "old-alice", "phone", "tablet"}, before["anonymousIds"])
	require.NotEmpty(t, e.scanFor(aliceIDs...), "the seed stored data about Alice")

	t.Run("DELETE requires the API key", func(t *testing.T) {
		for _, key := range []string{"", "wrong"} {
			status, out := e.do(http.MethodDelete, userPath, key)
			assert.Equal(t, http.StatusUnauthorized, status, out)
		}
		status, _ := e.do(http.MethodGet, userPath, privacyKey)
		assert.Equal(t, http.StatusOK, status, "nothing was erased without the key")
	})

	status, out := e.do(http.MethodDelete, userPath, privacyKey)
	require.Equal(t, http.StatusOK, status, out)
	// Real-time attribution pushed Alice's traits while she was known; nothing after this.
	sentBefore := len(e.fake.Messages())
	assert.Equal(t, alice, out["userId"])
	assert.Equal(t, []any{"laptop", "old-alice", "phone", "tablet"}, out["anonymousIds"])
	assert.Equal(t, []any{"family-pc"}, out["sharedAnonymousIds"])
	assert.Equal(t, false, out["alreadyErased"])
	removed := out["removed"].(map[string]any)
	// Events: all eleven of Alice's. Touches: tablet, user:old-alice, laptop, phone and
	// her signed-in page on the family PC. Identities: tablet↔old-alice,
	// alice↔{laptop, phone, old-alice, tablet (inherited), family-pc}, the state item
	// written above, real-time attribution's push state under alice and old-alice, and
	// the merge caps' counters under alice and old-alice.
	assert.EqualValues(t, len(aliceEvents), removed["events"])
	assert.EqualValues(t, 5, removed["touches"])
	assert.EqualValues(t, 11, removed["identities"])

	t.Run("nothing about Alice remains in any table", func(t *testing.T) {
		assert.Empty(t, e.scanFor(aliceIDs...))
		assert.Empty(t, e.scanFor("alice"), "not even inside raw events or descriptions")
		for _, p := range []string{userPath, "/api/user/old-alice", "/api/anonymous/laptop", "/api/anonymous/phone", "/api/anonymous/tablet"} {
			status, out := e.do(http.MethodGet, p, privacyKey)
			assert.Equal(t, http.StatusNotFound, status, "%s: %v", p, out)
		}
	})

	t.Run("the shared device stays Bob's", func(t *testing.T) {
		status, bob := e.do(http.MethodGet, "/api/user/bob", privacyKey)
		require.Equal(t, http.StatusOK, status, bob)
		assert.ElementsMatch(t, []any{"bob-mobile", "family-pc"}, bob["anonymousIds"])
		var touchIDs []any
		for _, tc := range bob["touches"].([]any) {
			touchIDs = append(touchIDs, tc.(map[string]any)["messageId"])
		}
		assert.ElementsMatch(t, []any{"b1", "b3", "b5"}, touchIDs)
		status, pc := e.do(http.MethodGet, "/api/anonymous/family-pc", privacyKey)
		require.Equal(t, http.StatusOK, status, pc)
		assert.Equal(t, []any{"bob"}, pc["userIds"])
	})

	t.Run("webhook retries are acknowledged and dropped", func(t *testing.T) {
		got := e.post(aliceEvents...)
		assert.EqualValues(t, 0, got["stored"])
		assert.EqualValues(t, len(aliceEvents), got["suppressed"])
		// New events on her devices, and an anonymous page on the shared PC (kept: Bob's).
		got = e.post(
			pageEv("late-1", "laptop", "", 50, "https://acme.io/", ""),
			pageEv("late-2", "", "old-alice", 51, "https://acme.io/", ""),
			pageEv("late-3", "family-pc", "", 52, "https://acme.io/", ""),
		)
		assert.EqualValues(t, 1, got["stored"])
		assert.Equal(t, []any{"late-1", "late-2"}, got["suppressedIds"])
		assert.Empty(t, e.scanFor(aliceIDs...))
	})

	t.Run("an import checks its chunk in one call", func(t *testing.T) {
		tomb := store.NewTombstones(e.db, e.tables.Identities)
		var evs []event.Event
		for _, raw := range append(aliceEvents, pageEv("b9", "bob-mobile", "bob", 60, "https://acme.io/", "")) {
			b, err := json.Marshal(raw)
			require.NoError(t, err)
			ev, err := event.Parse(b)
			require.NoError(t, err)
			evs = append(evs, ev)
		}
		erased, err := tomb.EventsErased(context.Background(), evs)
		require.NoError(t, err)
		for i := range aliceEvents {
			assert.True(t, erased[i], "event %d", i)
		}
		assert.False(t, erased[len(evs)-1], "Bob is not suppressed")
	})

	t.Run("nothing is sent to Segment for her", func(t *testing.T) {
		for _, p := range []string{
			"/segment/identify/user/" + url.PathEscape(alice), "/segment/track/user/" + url.PathEscape(alice),
			"/segment/track/user/old-alice", "/segment/track/anonymous/laptop",
		} {
			status, out := e.do(http.MethodGet, p, privacyKey)
			assert.Equal(t, http.StatusGone, status, "%s: %v", p, out)
		}
		status, out := e.do(http.MethodGet, "/segment/identify/user/bob", privacyKey)
		assert.Equal(t, http.StatusOK, status, out)
		var since []string
		for _, m := range e.fake.Messages()[sentBefore:] {
			since = append(since, m.UserID+"|"+m.AnonymousID)
			for _, id := range aliceIDs {
				assert.NotEqual(t, id, m.UserID)
				assert.NotEqual(t, id, m.AnonymousID)
			}
		}
		assert.Contains(t, since, "bob|", "Bob is still sent")
	})

	t.Run("erasing again answers 200 with zero counts", func(t *testing.T) {
		status, out := e.do(http.MethodDelete, userPath, privacyKey)
		require.Equal(t, http.StatusOK, status, out)
		assert.Equal(t, map[string]any{"events": 0.0, "touches": 0.0, "identities": 0.0}, out["removed"])
		assert.Equal(t, true, out["alreadyErased"])
	})

	t.Run("tombstones hold no id in clear and are read as no one", func(t *testing.T) {
		status, out := e.do(http.MethodGet, "/api/anonymous/"+url.PathEscape(store.TombstoneKey(alice)), privacyKey)
		assert.Equal(t, http.StatusNotFound, status, out)
		status, out = e.do(http.MethodGet, "/api/user/"+url.PathEscape(store.TombstoneKey(alice)), privacyKey)
		assert.Equal(t, http.StatusNotFound, status, out)
	})
}

func TestEraseAnonymousIDKeepsItsUser(t *testing.T) {
	e := newPrivacyEnv(t)
	seedPeople(e)

	status, out := e.do(http.MethodDelete, "/api/anonymous/bob-mobile", "")
	assert.Equal(t, http.StatusUnauthorized, status, out)

	status, out = e.do(http.MethodDelete, "/api/anonymous/bob-mobile", privacyKey)
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, "bob-mobile", out["anonymousId"])
	assert.Equal(t, []any{"bob"}, out["userIds"])
	// b3 (page) and b4 (identify); the page's touch; the bob↔bob-mobile link.
	assert.Equal(t, map[string]any{"events": 2.0, "touches": 1.0, "identities": 1.0}, out["removed"])
	assert.Empty(t, e.scanFor("bob-mobile"))

	status, bob := e.do(http.MethodGet, "/api/user/bob", privacyKey)
	require.Equal(t, http.StatusOK, status, bob)
	assert.Equal(t, []any{"family-pc"}, bob["anonymousIds"])

	got := e.post(pageEv("b20", "bob-mobile", "", 70, "https://acme.io/", ""), pageEv("b21", "family-pc", "bob", 71, "https://acme.io/", ""))
	assert.EqualValues(t, 1, got["suppressed"])
	assert.EqualValues(t, 1, got["stored"])
	status, _ = e.do(http.MethodGet, "/segment/track/anonymous/bob-mobile", privacyKey)
	assert.Equal(t, http.StatusGone, status)

	status, out = e.do(http.MethodDelete, "/api/anonymous/bob-mobile", privacyKey)
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, true, out["alreadyErased"])
	assert.Equal(t, map[string]any{"events": 0.0, "touches": 0.0, "identities": 0.0}, out["removed"])
}

// Erasing the last user of a shared device erases the device: once Alice is gone,
// erasing Bob takes the family PC's anonymous history with him.
func TestEraseLastOwnerOfASharedDeviceErasesIt(t *testing.T) {
	e := newPrivacyEnv(t)
	seedPeople(e)
	status, out := e.do(http.MethodDelete, "/api/user/"+url.PathEscape(alice), privacyKey)
	require.Equal(t, http.StatusOK, status, out)
	status, out = e.do(http.MethodDelete, "/api/user/bob", privacyKey)
	require.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, []any{"bob-mobile", "family-pc"}, out["anonymousIds"])
	assert.Nil(t, out["sharedAnonymousIds"])
	assert.Empty(t, e.scanFor(append(aliceIDs, "bob", "family-pc")...))
}

// An alias's previousId may have been a userId ("old-alice" was Alice's before she
// renamed). Erasing it as an anonymous id erases what was keyed by it as a userId too.
func TestEraseAnAliasedPreviousIDAsAnonymousID(t *testing.T) {
	e := newPrivacyEnv(t)
	seedPeople(e)

	status, out := e.do(http.MethodDelete, "/api/anonymous/old-alice", privacyKey)
	require.Equal(t, http.StatusOK, status, out)
	assert.Contains(t, out["userIds"], alice)

	ctx := context.Background()
	evs := store.NewEvents(e.db, e.tables.Events)
	ids, err := evs.MessageIDs(ctx, store.EventSource{ByUser: true, ID: "old-alice"})
	require.NoError(t, err)
	assert.Empty(t, ids, "a2 (identify) and a3 (server-side page) carried old-alice as their userId")
	touches, err := store.NewTouches(e.db, e.tables.Touches).ByVisitor(ctx, store.VisitorID("", "old-alice"))
	require.NoError(t, err)
	assert.Empty(t, touches, "the server-side page's touch")
	links, err := store.NewIdentities(e.db, e.tables.Identities).ByUser(ctx, "old-alice")
	require.NoError(t, err)
	assert.Empty(t, links, "old-alice's own link to the tablet")

	status, alice := e.do(http.MethodGet, "/api/user/"+url.PathEscape(alice), privacyKey)
	require.Equal(t, http.StatusOK, status, alice)
	assert.Contains(t, alice["anonymousIds"], "laptop", "Alice herself is kept")
}
