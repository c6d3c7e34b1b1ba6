package query_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/attribution-dev/attribution/internal/attribution"
	"github.com/attribution-dev/attribution/internal/source"
	"github.com/attribution-dev/attribution/internal/store"
)

func creditsOf(cs []attribution.Credit) map[string]float64 {
	out := map[string]float64{}
	for _, c := range cs {
		out[c.Channel+"|"+c.Source+"|"+c.Campaign] = c.Credit
	}
	return out
}

const (
	searchKey     = "Organic Search|google|(none)"
	newsletterKey = "Email|newsletter|spring"
	directKey     = "Direct|(direct)|(none)"
)

// Search, then a newsletter three days later, then a direct visit an hour after that.
func TestUserAnswerCarriesCreditsUnderEveryModel(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	for _, tc := range []attribution.Touch{
		touch("p1", "laptop", "", t0, search()),
		touch("p2", "phone", "", t0.Add(3*day), newsletter()),
		touch("p3", "phone", "", t0.Add(3*day+time.Hour), direct()),
	} {
		require.NoError(t, e.touches.Put(ctx, tc))
	}
	for _, anon := range []string{"laptop", "phone"} {
		require.NoError(t, e.identities.Put(ctx, store.Link{UserID: "u1", AnonymousID: anon, Source: store.LinkIdentify, MessageID: "i-" + anon, FirstSeen: t0}))
	}

	// time_decay, half-life 7 days, weights relative to the last touch.
	w1, w2 := math.Exp2(-73.0/168), math.Exp2(-1.0/168)
	total := w1 + w2 + 1
	want := map[string]map[string]float64{
		"first":           {searchKey: 1},
		"last":            {directKey: 1},
		"last_non_direct": {newsletterKey: 1},
		"linear":          {searchKey: 1.0 / 3, newsletterKey: 1.0 / 3, directKey: 1.0 / 3},
		"position":        {searchKey: 0.4, newsletterKey: 0.2, directKey: 0.4},
		"time_decay":      {searchKey: w1 / total, newsletterKey: w2 / total, directKey: 1 / total},
	}
	status, r := e.get(t, "/api/user/u1", nil, "")
	require.Equal(t, http.StatusOK, status, r.Error)
	require.Len(t, r.Attribution, len(attribution.Models()))
	for model, w := range want {
		got := creditsOf(r.Attribution[model])
		require.Len(t, got, len(w), model)
		for k, v := range w {
			assert.InDelta(t, v, got[k], 1e-12, "%s %s", model, k)
		}
	}

	// The answer agrees with the one-model route.
	for _, m := range attribution.Models() {
		status, one := e.get(t, "/api/user/u1/attribution?model="+string(m), nil, "")
		require.Equal(t, http.StatusOK, status, one.Error)
		assert.Equal(t, one.Credits, r.Attribution[string(m)], m)
	}

	status, r = e.get(t, "/api/anonymous/phone", nil, "")
	require.Equal(t, http.StatusOK, status, r.Error)
	assert.Equal(t, map[string]float64{newsletterKey: 0.5, directKey: 0.5}, creditsOf(r.Attribution["linear"]))
	assert.Equal(t, map[string]float64{newsletterKey: 1}, creditsOf(r.Attribution["last_non_direct"]))
}

func TestCreditsSumToOneForEveryUserWithTouches(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	descs := []func() source.Description{search, newsletter, direct}
	for u := range 12 {
		user := fmt.Sprintf("u%d", u)
		for i := range u + 1 { // 1..12 touches, mixed sources, uneven gaps
			d := descs[(u*7+i*3)%len(descs)]()
			at := t0.Add(time.Duration(i*i) * 7 * time.Hour)
			require.NoError(t, e.touches.Put(ctx, touch(fmt.Sprintf("%s-p%d", user, i), "", user, at, d)))
		}
		status, r := e.get(t, "/api/user/"+user, nil, "")
		require.Equal(t, http.StatusOK, status, r.Error)
		for _, m := range attribution.Models() {
			var sum float64
			for _, c := range r.Attribution[string(m)] {
				assert.Positive(t, c.Credit)
				sum += c.Credit
			}
			assert.InDelta(t, 1, sum, 1e-9, "%s under %s", user, m)
		}
	}
}

func TestPersonWithoutTouchesHasEmptyCredits(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	require.NoError(t, e.identities.Put(ctx, store.Link{UserID: "u1", AnonymousID: "a1", Source: store.LinkIdentify, MessageID: "i1", FirstSeen: t0}))
	status, r := e.get(t, "/api/user/u1", nil, "")
	require.Equal(t, http.StatusOK, status, r.Error)
	for _, m := range attribution.Models() {
		got, ok := r.Attribution[string(m)]
		assert.True(t, ok, m)
		assert.NotNil(t, got, "%s is [] rather than null", m)
		assert.Empty(t, got, m)
	}
}
