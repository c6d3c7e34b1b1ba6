package attribution

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/attribution-dev/attribution/internal/source"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseModel(t *testing.T) {
	for _, m := range Models() {
		got, err := ParseModel(string(m))
		if err != nil || got != m {
			t.Errorf("ParseModel(%q) = %q, %v", m, got, err)
		}
	}
	for _, bad := range []string{"", "First", " last", "lastnondirect", "u_shaped"} {
		_, err := ParseModel(bad)
		if !errors.Is(err, ErrUnknownModel) {
			t.Errorf("ParseModel(%q) error = %v, want ErrUnknownModel", bad, err)
			continue
		}
		want := "valid models are first, last, last_non_direct, linear, position, time_decay"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not list the valid models", err)
		}
	}
	var m Model
	if err := m.UnmarshalText([]byte("position")); err != nil || m != ModelPosition {
		t.Errorf("UnmarshalText = %q, %v", m, err)
	}
	if err := m.UnmarshalText([]byte("nope")); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("UnmarshalText(nope) error = %v", err)
	}
}

func TestCreditsErrors(t *testing.T) {
	touches := []Touch{touchAt("a", 0, direct())}
	if _, err := Credits("nope", touches, Options{}); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("unknown model: error = %v", err)
	}
	if _, err := Credits(ModelTimeDecay, touches, Options{HalfLife: -time.Hour}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("negative half-life: error = %v", err)
	}
}

func TestCreditsEmpty(t *testing.T) {
	for _, m := range Models() {
		got, err := Credits(m, nil, Options{})
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("%s: Credits(nil) = %#v, %v; want empty non-nil slice", m, got, err)
		}
		// Every touch after the conversion: nothing left to credit.
		got, err = Credits(m, []Touch{touchAt("a", day, direct())}, Options{ConversionTime: t0})
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("%s: all touches after conversion = %#v, %v", m, got, err)
		}
	}
}

// journey is the worked example: four touches a week apart.
//
//	day  0  a  search google        (Organic Search, google, (none))
//	day  7  b  direct               (Direct, (direct), (none))
//	day 14  c  newsletter campaign  (Email, newsletter, spring)
//	day 21  d  direct               (Direct, (direct), (none))
func journey() []Touch {
	return []Touch{
		touchAt("a", 0, search("google")),
		touchAt("b", 7*day, direct()),
		touchAt("c", 14*day, newsletter()),
		touchAt("d", 21*day, direct()),
	}
}

func TestCreditsHandComputed(t *testing.T) {
	sqrt2 := math.Sqrt2
	tests := []struct {
		name  string
		model Model
		opts  Options
		want  []Credit
	}{
		{
			name: "first: a gets everything", model: ModelFirst,
			want: []Credit{withCredit(creditSearch, 1)},
		},
		{
			name: "last: d gets everything", model: ModelLast,
			want: []Credit{withCredit(creditDirect, 1)},
		},
		{
			name: "last_non_direct: d is direct, so c", model: ModelLastNonDirect,
			want: []Credit{withCredit(creditNewsletter, 1)},
		},
		{
			// 1/4 each; b and d are both (direct): 1/4 + 1/4 = 1/2. The two 1/4 ties
			// sort by channel: Email < Organic Search.
			name: "linear", model: ModelLinear,
			want: []Credit{
				withCredit(creditDirect, 0.5),
				withCredit(creditNewsletter, 0.25),
				withCredit(creditSearch, 0.25),
			},
		},
		{
			// a 0.4, d 0.4, middle b and c share 0.2: 0.1 each.
			// Direct = d + b = 0.4 + 0.1 = 0.5; Organic = 0.4; Email = 0.1.
			name: "position", model: ModelPosition,
			want: []Credit{
				withCredit(creditDirect, 0.5),
				withCredit(creditSearch, 0.4),
				withCredit(creditNewsletter, 0.1),
			},
		},
		{
			// Half-life 7 days, conversion at d (day 21). Ages 21, 14, 7, 0 days:
			// weights 2^-3, 2^-2, 2^-1, 2^0 = 0.125, 0.25, 0.5, 1; total 1.875.
			// Direct = (0.25 + 1)/1.875 = 2/3; Email = 0.5/1.875 = 4/15;
			// Organic = 0.125/1.875 = 1/15.
			name: "time_decay, default half-life", model: ModelTimeDecay,
			want: []Credit{
				withCredit(creditDirect, 2.0/3),
				withCredit(creditNewsletter, 4.0/15),
				withCredit(creditSearch, 1.0/15),
			},
		},
		{
			// A later conversion multiplies every weight by the same 2^-1 (day 28 is
			// one half-life after d), which cancels: same shares as above.
			name: "time_decay, conversion after the last touch", model: ModelTimeDecay,
			opts: Options{ConversionTime: t0.Add(28 * day)},
			want: []Credit{
				withCredit(creditDirect, 2.0/3),
				withCredit(creditNewsletter, 4.0/15),
				withCredit(creditSearch, 1.0/15),
			},
		},
		{
			// Conversion at day 14 drops d. Ages 14, 7, 0 days: weights 0.25, 0.5, 1;
			// total 1.75. Email = 1/1.75 = 4/7; Direct = 0.5/1.75 = 2/7;
			// Organic = 0.25/1.75 = 1/7.
			name: "time_decay, conversion at c excludes d", model: ModelTimeDecay,
			opts: Options{ConversionTime: t0.Add(14 * day)},
			want: []Credit{
				withCredit(creditNewsletter, 4.0/7),
				withCredit(creditDirect, 2.0/7),
				withCredit(creditSearch, 1.0/7),
			},
		},
		{
			// Half-life 14 days. Ages 21, 14, 7, 0 days = 1.5, 1, 0.5, 0 half-lives:
			// weights 2^-1.5 = √2/4, 1/2, √2/2, 1; total 1.5 + 3√2/4.
			// Direct = 1.5/total; Email = (√2/2)/total; Organic = (√2/4)/total.
			name: "time_decay, 14-day half-life", model: ModelTimeDecay,
			opts: Options{HalfLife: 14 * day},
			want: []Credit{
				withCredit(creditDirect, 1.5/(1.5+3*sqrt2/4)),
				withCredit(creditNewsletter, (sqrt2/2)/(1.5+3*sqrt2/4)),
				withCredit(creditSearch, (sqrt2/4)/(1.5+3*sqrt2/4)),
			},
		},
		{
			// A 1ns half-life makes every touch but d weigh 2^-(6e14) = 0 in float64;
			// groups with nothing left are dropped rather than listed at 0.
			name: "time_decay drops groups that decayed to nothing", model: ModelTimeDecay,
			opts: Options{HalfLife: time.Nanosecond},
			want: []Credit{withCredit(creditDirect, 1)},
		},
		{
			// Conversion at day 7 leaves a and b: two touches, 50/50.
			name: "position with two touches", model: ModelPosition,
			opts: Options{ConversionTime: t0.Add(7 * day)},
			want: []Credit{withCredit(creditDirect, 0.5), withCredit(creditSearch, 0.5)},
		},
		{
			name: "position with one touch", model: ModelPosition,
			opts: Options{ConversionTime: t0},
			want: []Credit{withCredit(creditSearch, 1)},
		},
		{
			// A touch exactly at the conversion time counts.
			name: "last at the conversion instant", model: ModelLast,
			opts: Options{ConversionTime: t0.Add(14 * day)},
			want: []Credit{withCredit(creditNewsletter, 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Credits(tt.model, journey(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			assertCredits(t, got, tt.want)
		})
	}
}

// TestCreditsDirectPositions puts a direct visit first, in the middle, last, and
// everywhere, under every model. S = search google, E = newsletter, D = direct, one
// week apart, so time_decay weights are 2^-2, 2^-1, 2^0 = 1/4, 1/2, 1 (total 7/4):
// shares 1/7, 2/7, 4/7 from oldest to newest. Position with three touches is 0.4, 0.2,
// 0.4; linear is 1/3 each (ties sorted by channel: Direct, Email, Organic Search).
func TestCreditsDirectPositions(t *testing.T) {
	s, e, d := search("google"), newsletter(), direct()
	seq := func(ds ...source.Description) []Touch {
		out := make([]Touch, len(ds))
		for i, desc := range ds {
			out[i] = touchAt(string(rune('a'+i)), time.Duration(i)*7*day, desc)
		}
		return out
	}
	third := 1.0 / 3
	linearAll := []Credit{withCredit(creditDirect, third), withCredit(creditNewsletter, third), withCredit(creditSearch, third)}
	allDirect := []Credit{withCredit(creditDirect, 1)}

	tests := []struct {
		name    string
		touches []Touch
		want    map[Model][]Credit
	}{
		{
			name:    "direct first: D S E",
			touches: seq(d, s, e),
			want: map[Model][]Credit{
				ModelFirst:         {withCredit(creditDirect, 1)},
				ModelLast:          {withCredit(creditNewsletter, 1)},
				ModelLastNonDirect: {withCredit(creditNewsletter, 1)},
				ModelLinear:        linearAll,
				// D 0.4, S 0.2, E 0.4; the 0.4 tie sorts Direct before Email.
				ModelPosition:  {withCredit(creditDirect, 0.4), withCredit(creditNewsletter, 0.4), withCredit(creditSearch, 0.2)},
				ModelTimeDecay: {withCredit(creditNewsletter, 4.0/7), withCredit(creditSearch, 2.0/7), withCredit(creditDirect, 1.0/7)},
			},
		},
		{
			name:    "direct in the middle: S D E",
			touches: seq(s, d, e),
			want: map[Model][]Credit{
				ModelFirst:         {withCredit(creditSearch, 1)},
				ModelLast:          {withCredit(creditNewsletter, 1)},
				ModelLastNonDirect: {withCredit(creditNewsletter, 1)},
				ModelLinear:        linearAll,
				// S 0.4, D 0.2, E 0.4; the 0.4 tie sorts Email before Organic Search.
				ModelPosition:  {withCredit(creditNewsletter, 0.4), withCredit(creditSearch, 0.4), withCredit(creditDirect, 0.2)},
				ModelTimeDecay: {withCredit(creditNewsletter, 4.0/7), withCredit(creditDirect, 2.0/7), withCredit(creditSearch, 1.0/7)},
			},
		},
		{
			name:    "direct last: S E D",
			touches: seq(s, e, d),
			want: map[Model][]Credit{
				ModelFirst:         {withCredit(creditSearch, 1)},
				ModelLast:          {withCredit(creditDirect, 1)},
				ModelLastNonDirect: {withCredit(creditNewsletter, 1)}, // skips the direct D
				ModelLinear:        linearAll,
				// S 0.4, E 0.2, D 0.4.
				ModelPosition:  {withCredit(creditDirect, 0.4), withCredit(creditSearch, 0.4), withCredit(creditNewsletter, 0.2)},
				ModelTimeDecay: {withCredit(creditDirect, 4.0/7), withCredit(creditNewsletter, 2.0/7), withCredit(creditSearch, 1.0/7)},
			},
		},
		{
			// Every model ends at (direct) = 1; last_non_direct falls back to last.
			name:    "all direct: D D D",
			touches: seq(d, d, d),
			want: map[Model][]Credit{
				ModelFirst: allDirect, ModelLast: allDirect, ModelLastNonDirect: allDirect,
				ModelLinear: allDirect, ModelPosition: allDirect, ModelTimeDecay: allDirect,
			},
		},
	}
	for _, tt := range tests {
		for _, m := range Models() {
			t.Run(tt.name+"/"+string(m), func(t *testing.T) {
				got, err := Credits(m, tt.touches, Options{})
				if err != nil {
					t.Fatal(err)
				}
				assertCredits(t, got, tt.want[m])
			})
		}
	}
}

func TestCreditsLastNonDirectFallbackPicksLatestDirect(t *testing.T) {
	// Two different direct-like groups: the fallback must credit the latest one.
	internal := source.Description{Referrer: source.Referrer{Type: source.TypeInternal}, Channel: "Direct"}
	noChannel := source.Description{Referrer: source.Referrer{Type: source.TypeDirect}}
	got, err := Credits(ModelLastNonDirect, []Touch{touchAt("a", 0, internal), touchAt("b", day, noChannel)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	assertCredits(t, got, []Credit{{Channel: "Unassigned", Source: "(direct)", Campaign: "(none)", Credit: 1}})
}

func TestCreditLabels(t *testing.T) {
	tests := []struct {
		name     string
		touch    Touch
		wantCh   string
		wantSrc  string
		wantCamp string
	}{
		{"campaign source wins over engine", Touch{Description: source.Description{
			Referrer: source.Referrer{Type: source.TypeSearch, Engine: "google"},
			Campaign: &source.Campaign{Source: "spring-ads", Campaign: "spring"}, Channel: "Paid Search"}},
			"Paid Search", "spring-ads", "spring"},
		{"campaign without source falls back to engine", Touch{Description: source.Description{
			Referrer: source.Referrer{Type: source.TypeSearch, Engine: "google"},
			Campaign: &source.Campaign{Campaign: "spring"}, Channel: "Organic Search"}},
			"Organic Search", "google", "spring"},
		{"social network", Touch{Description: source.Description{Referrer: source.Referrer{Type: source.TypeSocial, Network: "linkedin"}, Channel: "Organic Social"}},
			"Organic Social", "linkedin", "(none)"},
		{"ad network", Touch{Description: source.Description{Referrer: source.Referrer{Type: source.TypeAd, Network: "google"}, Channel: "Paid Search"}},
			"Paid Search", "google", "(none)"},
		{"email client", Touch{Description: gmail()}, "Email", "gmail", "(none)"},
		{"local site", Touch{Description: source.Description{Referrer: source.Referrer{Type: source.TypeLocal, Site: "yelp"}}},
			"Unassigned", "yelp", "(none)"},
		{"ai assistant", Touch{Description: source.Description{Referrer: source.Referrer{Type: source.TypeAI, Assistant: "chatgpt"}, Channel: "AI"}},
			"AI", "chatgpt", "(none)"},
		{"type and key disagree", Touch{Description: source.Description{Referrer: source.Referrer{Type: source.TypeAd, Engine: "bing"}}},
			"Unassigned", "bing", "(none)"},
		{"link: host of from", Touch{Description: source.Description{
			Referrer: source.Referrer{Type: source.TypeLink, From: "https://WWW.Example.com:8443/a/b?c=d"}, Channel: "Referral"}},
			"Referral", "example.com", "(none)"},
		{"unknown: host of the touch's referrer", Touch{Referrer: "http://user@news.ycombinator.com/item?id=1",
			Description: source.Description{Referrer: source.Referrer{Type: source.TypeUnknown}, Channel: "Referral"}},
			"Referral", "news.ycombinator.com", "(none)"},
		{"unknown without any referrer", Touch{Description: source.Description{Referrer: source.Referrer{Type: source.TypeUnknown}}},
			"Unassigned", "(direct)", "(none)"},
		{"direct ignores its referrer", Touch{Referrer: "https://shop.example/", Description: direct()},
			"Direct", "(direct)", "(none)"},
		{"internal ignores its referrer", Touch{Referrer: "https://shop.example/",
			Description: source.Description{Referrer: source.Referrer{Type: source.TypeInternal, From: "https://shop.example/"}}},
			"Unassigned", "(direct)", "(none)"},
		{"direct newsletter", Touch{Description: newsletter()}, "Email", "newsletter", "spring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Credits(ModelLast, []Touch{tt.touch}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			assertCredits(t, got, []Credit{{Channel: tt.wantCh, Source: tt.wantSrc, Campaign: tt.wantCamp, Credit: 1}})
		})
	}
}

func TestHost(t *testing.T) {
	tests := map[string]string{
		"":                                     "",
		"https://www.google.com/":              "google.com",
		"https://www.google.com":               "google.com",
		"http://t.co/abc":                      "t.co",
		"android-app://com.google.android.gm/": "com.google.android.gm",
		"//cdn.example.org/x":                  "cdn.example.org",
		"example.com/path":                     "example.com",
		"https://a:b@Sub.Example.COM:443/?q#f": "sub.example.com",
		"https://[2001:db8::1]:8080/":          "[2001:db8::1]",
		"https://www./":                        "www", // "www." is the host "www", written fully qualified
		"https://exa mple.com/":                "",    // no host: the source is (direct)
		"https://www2.example.com/":            "www2.example.com",
	}
	for in, want := range tests {
		if got := host(in); got != want {
			t.Errorf("host(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCreditsManyGroups crosses the point where aggregation switches from a linear
// scan to a map, and checks both paths agree on the totals.
func TestCreditsManyGroups(t *testing.T) {
	const groups = 3 * linearScanLimit
	var touches []Touch
	for round := range 3 {
		for g := range groups {
			d := source.Description{
				Referrer: source.Referrer{Type: source.TypeSearch, Engine: "engine" + string(rune('A'+g%26)) + string(rune('a'+g/26))},
				Channel:  "Organic Search",
			}
			touches = append(touches, touchAt(string(rune('A'+round))+string(rune('a'+g)), time.Duration(round*groups+g)*time.Minute, d))
		}
	}
	got, err := Credits(ModelLinear, touches, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != groups {
		t.Fatalf("%d groups, want %d", len(got), groups)
	}
	for _, c := range got {
		if math.Abs(c.Credit-1.0/groups) > 1e-12 {
			t.Errorf("%s: credit %v, want %v", c.Source, c.Credit, 1.0/groups)
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Source > got[i].Source {
			t.Errorf("equal credits not sorted by source: %s before %s", got[i-1].Source, got[i].Source)
		}
	}
}

// TestCreditsProperties checks, over random journeys: credits sum to 1, lie in (0, 1],
// are sorted, do not depend on the input order, and leave the input alone.
func TestCreditsProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	pool := []source.Description{
		direct(), search("google"), search("bing"), newsletter(), gmail(),
		{Referrer: source.Referrer{Type: source.TypeSocial, Network: "linkedin"}, Channel: "Organic Social"},
		{Referrer: source.Referrer{Type: source.TypeAd, Network: "google"}, Campaign: &source.Campaign{Source: "google", Medium: "cpc", Campaign: "brand"}, Channel: "Paid Search"},
		{Referrer: source.Referrer{Type: source.TypeLink, From: "https://news.ycombinator.com/"}, Channel: "Referral"},
		{Referrer: source.Referrer{Type: source.TypeAI, Assistant: "chatgpt"}, Campaign: &source.Campaign{Source: "chatgpt.com"}, Channel: "AI"},
		{},
	}
	for iter := range 3000 {
		n := rng.IntN(40)
		touches := make([]Touch, n)
		for i := range touches {
			// Few distinct instants, so equal timestamps are common; spans up to years,
			// so time_decay weights get tiny.
			at := time.Duration(rng.IntN(8)) * time.Duration(rng.Int64N(int64(400*day)))
			touches[i] = touchAt(string(rune('a'+rng.IntN(26)))+string(rune('a'+i%26))+string(rune('0'+i/26)), at, pool[rng.IntN(len(pool))])
		}
		var opts Options
		if rng.IntN(3) == 0 {
			opts.ConversionTime = t0.Add(time.Duration(rng.Int64N(int64(3000 * day))))
		}
		if rng.IntN(2) == 0 {
			opts.HalfLife = time.Duration(1 + rng.Int64N(int64(30*day)))
		}
		for _, m := range Models() {
			orig := slices.Clone(touches)
			got, err := Credits(m, touches, opts)
			if err != nil {
				t.Fatalf("iter %d %s: %v", iter, m, err)
			}
			if !reflect.DeepEqual(touches, orig) {
				t.Fatalf("iter %d %s: input modified", iter, m)
			}
			counted := 0
			for _, tc := range touches {
				if opts.ConversionTime.IsZero() || !tc.Timestamp.After(opts.ConversionTime) {
					counted++
				}
			}
			if counted == 0 {
				if got == nil || len(got) != 0 {
					t.Fatalf("iter %d %s: %d counted touches but credits %v", iter, m, counted, got)
				}
				continue
			}
			var sum float64
			for i, c := range got {
				if !(c.Credit > 0 && c.Credit <= 1) {
					t.Fatalf("iter %d %s: credit %v out of (0, 1]", iter, m, c.Credit)
				}
				if i > 0 && got[i-1].Credit < c.Credit {
					t.Fatalf("iter %d %s: not sorted by credit: %v", iter, m, got)
				}
				sum += c.Credit
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Fatalf("iter %d %s: credits sum to %.17g: %v", iter, m, sum, got)
			}
			shuffled := slices.Clone(touches)
			rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			again, err := Credits(m, shuffled, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, again) {
				t.Fatalf("iter %d %s: result depends on input order:\n%v\n%v", iter, m, got, again)
			}
		}
	}
}

func assertCredits(t *testing.T, got, want []Credit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("credits = %v, want %v", got, want)
	}
	var sum float64
	for i := range want {
		g, w := got[i], want[i]
		if g.Channel != w.Channel || g.Source != w.Source || g.Campaign != w.Campaign || math.Abs(g.Credit-w.Credit) > 1e-12 {
			t.Errorf("credit %d = %+v, want %+v", i, g, w)
		}
		sum += g.Credit
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("credits sum to %v", sum)
	}
}

func TestTouchCreditsGroupToCredits(t *testing.T) {
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	touches := []Touch{
		{MessageID: "c", Timestamp: base.Add(48 * time.Hour), Description: source.Description{Channel: "Email", Referrer: source.Referrer{Type: source.TypeEmail, Client: "gmail"}}},
		{MessageID: "a", Timestamp: base, Description: source.Description{Channel: "Organic Search", Referrer: source.Referrer{Type: source.TypeSearch, Engine: "google"}}},
		{MessageID: "b", Timestamp: base.Add(24 * time.Hour), Description: source.Description{Channel: "Direct", Referrer: source.Referrer{Type: source.TypeDirect}}},
		{MessageID: "late", Timestamp: base.Add(96 * time.Hour), Description: source.Description{Channel: "Paid Search"}},
	}
	opts := Options{ConversionTime: base.Add(72 * time.Hour)}
	for _, m := range Models() {
		per, err := TouchCredits(m, touches, opts)
		require.NoError(t, err)
		grouped, err := Credits(m, touches, opts)
		require.NoError(t, err)
		assert.Zero(t, per[3], "%s: a touch after the conversion gets nothing", m)
		var sum float64
		byChannel := map[string]float64{}
		for i, c := range per {
			sum += c
			byChannel[touches[i].Description.Channel] += c
		}
		assert.InDelta(t, 1, sum, 1e-12, m)
		for _, g := range grouped {
			assert.InDelta(t, g.Credit, byChannel[g.Channel], 1e-12, "%s %s", m, g.Channel)
		}
	}
	none, err := TouchCredits(ModelLinear, nil, Options{})
	require.NoError(t, err)
	assert.Empty(t, none)
}
