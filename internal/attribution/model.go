package attribution

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/attribution-dev/attribution/internal/source"
)

// Model is a rule for sharing the credit for a conversion among the touches before it.
type Model string

const (
	// ModelFirst gives all credit to the earliest touch.
	ModelFirst Model = "first"
	// ModelLast gives all credit to the latest touch.
	ModelLast Model = "last"
	// ModelLastNonDirect gives all credit to the latest touch that is not direct (see
	// IsDirect). Like Google Analytics, it falls back to the latest touch when every
	// touch is direct, so a direct-only person is credited to (direct) rather than to
	// nothing. Unlike Google Analytics there is no lookback window: any earlier
	// non-direct touch counts, however old.
	ModelLastNonDirect Model = "last_non_direct"
	// ModelLinear shares credit equally among all touches.
	ModelLinear Model = "linear"
	// ModelPosition gives 40% to the first touch, 40% to the last and shares the remaining
	// 20% equally among the touches between them; a single touch gets 100% and two get
	// 50% each.
	ModelPosition Model = "position"
	// ModelTimeDecay weighs each touch by 2^(-(conversion-t)/halfLife), so a touch one
	// half-life before the conversion counts half as much as one at the conversion.
	ModelTimeDecay Model = "time_decay"
)

// Models lists every model in the order the API documents them.
func Models() []Model {
	return []Model{ModelFirst, ModelLast, ModelLastNonDirect, ModelLinear, ModelPosition, ModelTimeDecay}
}

// DefaultHalfLife is the time_decay half-life when Options.HalfLife is zero; seven days
// is what Google Analytics used for its time decay model.
const DefaultHalfLife = 7 * 24 * time.Hour

// ErrUnknownModel is returned (wrapped, with the valid names) for a model name that is not
// one of Models, so an HTTP handler can answer 400 with errors.Is.
var ErrUnknownModel = errors.New("unknown attribution model")

// ErrInvalidOptions is returned (wrapped) for Options that no model can honour.
var ErrInvalidOptions = errors.New("invalid attribution options")

// ParseModel returns the model named s, which must be spelled exactly as in Models: model
// names end up in URLs and reports, and accepting variants would give one model many names.
func ParseModel(s string) (Model, error) {
	m := Model(s)
	if !m.valid() {
		return "", fmt.Errorf("%w %q: valid models are %s", ErrUnknownModel, s, validModels())
	}
	return m, nil
}

// UnmarshalText lets a Model be decoded from JSON, flags or configuration with the same
// validation as ParseModel, except that the data-driven models are accepted too: stored
// report rows name them, and decoding a name is not computing a conversion's credits.
func (m *Model) UnmarshalText(b []byte) error {
	if d := Model(b); slices.Contains(DataDrivenModels(), d) {
		*m = d
		return nil
	}
	parsed, err := ParseModel(string(b))
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

func (m Model) valid() bool {
	return slices.Contains(Models(), m)
}

func validModels() string {
	names := make([]string, 0, 6)
	for _, m := range Models() {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}

// Options tune Credits. The zero value means: every touch counts, default half-life.
type Options struct {
	// ConversionTime excludes touches after it (a touch at exactly that time counts).
	// Zero means every touch counts and the conversion is taken to be the last touch.
	ConversionTime time.Time
	// HalfLife is the time_decay half-life; zero means DefaultHalfLife. Negative is an
	// error.
	HalfLife time.Duration
}

func (o Options) halfLife() (time.Duration, error) {
	switch {
	case o.HalfLife < 0:
		return 0, fmt.Errorf("%w: negative half-life %s", ErrInvalidOptions, o.HalfLife)
	case o.HalfLife == 0:
		return DefaultHalfLife, nil
	}
	return o.HalfLife, nil
}

// Credit is the share of a conversion credited to one channel, source and campaign.
type Credit struct {
	Channel  string  `json:"channel"`
	Source   string  `json:"source"`
	Campaign string  `json:"campaign"`
	Credit   float64 `json:"credit"`
}

// Labels used when a touch lacks the corresponding value; they follow Google Analytics'
// conventions so reports read the same as the ones marketers already know.
const (
	DirectSource      = "(direct)"
	NoCampaign        = "(none)"
	UnassignedChannel = "Unassigned"
)

const wwwPrefix = "www."

// Credits shares one conversion among touches under model. The touches may be in any
// order and are not modified.
//
// Credits are summed per (channel, source, campaign) and sorted by credit, largest
// first, then by channel, source and campaign. For any non-empty set of counted touches
// they sum to 1: they are normalised once, after summing, so float rounding cannot make
// a report total 0.9999999. A group whose time_decay share underflows to zero is left
// out rather than listed with credit 0. With no touch to count, Credits returns an
// empty, non-nil slice (JSON [] rather than null) and no error: a person with no touches
// has nothing to credit, which is not a failure.
//
// Labels: channel is the description's channel ("Unassigned" if empty). Source is the
// utm_source when present, else the referrer's name (engine, network, client, site or
// assistant), else the referrer's host without "www.", else "(direct)"; direct and
// internal referrers never yield a host. Campaign is the utm_campaign, else "(none)".
func Credits(model Model, touches []Touch, opts Options) ([]Credit, error) {
	if !model.valid() {
		return nil, fmt.Errorf("credits: %w %q: valid models are %s", ErrUnknownModel, model, validModels())
	}
	halfLife, err := opts.halfLife()
	if err != nil {
		return nil, fmt.Errorf("credits: %w", err)
	}

	counted := make([]*Touch, 0, len(touches))
	for i := range touches {
		if !opts.ConversionTime.IsZero() && touches[i].Timestamp.After(opts.ConversionTime) {
			continue
		}
		counted = append(counted, &touches[i])
	}
	if len(counted) == 0 {
		return []Credit{}, nil
	}
	// A canonical order makes the float sums, and so the output, independent of the
	// order the store returned the touches in.
	slices.SortFunc(counted, compareTouches)

	var c credits
	for i, w := range weights(model, counted, halfLife) {
		c.add(counted[i], w)
	}
	return c.result(), nil
}

// weights are model's raw weights of counted touches, which are in canonical order and
// not empty; they are normalised by the caller.
func weights(model Model, counted []*Touch, halfLife time.Duration) []float64 {
	w := make([]float64, len(counted))
	n := len(counted)
	switch model {
	case ModelFirst:
		w[0] = 1
	case ModelLast:
		w[n-1] = 1
	case ModelLastNonDirect:
		pick := n - 1
		for i := n - 1; i >= 0; i-- {
			if !IsDirect(counted[i].Description) {
				pick = i
				break
			}
		}
		w[pick] = 1
	case ModelLinear:
		for i := range w {
			w[i] = 1
		}
	case ModelPosition:
		switch n {
		case 1:
			w[0] = 1
		case 2:
			w[0], w[1] = 0.5, 0.5
		default:
			w[0] = 0.4
			middle := 0.2 / float64(n-2)
			for i := 1; i < n-1; i++ {
				w[i] = middle
			}
			w[n-1] = 0.4
		}
	case ModelTimeDecay:
		// Weights are taken relative to the latest counted touch, not to the conversion:
		// 2^(-(conv-t)/h) = 2^(-(conv-latest)/h) * 2^(-(latest-t)/h), and the common
		// factor cancels when the weights are normalised. This way the latest touch
		// weighs exactly 1, so the total can never underflow to zero (and divide into
		// NaN) however far the conversion lies after the touches.
		latest := counted[n-1].Timestamp
		for i, t := range counted {
			age := latest.Sub(t.Timestamp)
			w[i] = math.Exp2(-float64(age) / float64(halfLife))
		}
	}
	return w
}

// TouchCredits is each touch's share of one conversion under model: the per-touch form
// of Credits, with the same options and rules, for reports that group touches by other
// labels than channel, source and campaign. out[i] is touches[i]'s share; touches after
// opts.ConversionTime get 0. The shares sum to 1 when any touch counts; with none they
// are all 0.
func TouchCredits(model Model, touches []Touch, opts Options) ([]float64, error) {
	if !model.valid() {
		return nil, fmt.Errorf("touch credits: %w %q: valid models are %s", ErrUnknownModel, model, validModels())
	}
	halfLife, err := opts.halfLife()
	if err != nil {
		return nil, fmt.Errorf("touch credits: %w", err)
	}
	out := make([]float64, len(touches))
	index := make(map[*Touch]int, len(touches))
	counted := make([]*Touch, 0, len(touches))
	for i := range touches {
		if !opts.ConversionTime.IsZero() && touches[i].Timestamp.After(opts.ConversionTime) {
			continue
		}
		counted = append(counted, &touches[i])
		index[&touches[i]] = i
	}
	if len(counted) == 0 {
		return out, nil
	}
	slices.SortFunc(counted, compareTouches)
	w := weights(model, counted, halfLife)
	var total float64
	for _, x := range w {
		total += x
	}
	for i, t := range counted {
		out[index[t]] = w[i] / total
	}
	return out, nil
}

type creditKey struct {
	channel, source, campaign string
}

// credits accumulates weights per key in first-seen order, which (with sorted touches)
// makes the summation order, and so every rounding, deterministic.
type credits struct {
	list  []Credit
	index map[creditKey]int
}

// linearScanLimit is how many groups are searched linearly before building a map: a
// person rarely has more than a handful of distinct sources, and a short scan is cheaper
// than hashing three strings.
const linearScanLimit = 16

func (c *credits) add(t *Touch, w float64) {
	k := labels(t)
	if c.index != nil {
		if i, ok := c.index[k]; ok {
			c.list[i].Credit += w
			return
		}
	} else {
		for i := range c.list {
			if c.list[i].Channel == k.channel && c.list[i].Source == k.source && c.list[i].Campaign == k.campaign {
				c.list[i].Credit += w
				return
			}
		}
	}
	c.list = append(c.list, Credit{Channel: k.channel, Source: k.source, Campaign: k.campaign, Credit: w})
	if c.index != nil {
		c.index[k] = len(c.list) - 1
	} else if len(c.list) > linearScanLimit {
		c.index = make(map[creditKey]int, 2*len(c.list))
		for i, cr := range c.list {
			c.index[creditKey{cr.Channel, cr.Source, cr.Campaign}] = i
		}
	}
}

func (c *credits) result() []Credit {
	var total float64
	for _, cr := range c.list {
		total += cr.Credit
	}
	for i := range c.list {
		c.list[i].Credit /= total
	}
	// Groups whose share underflowed to zero (time_decay with touches many half-lives
	// old) are dropped: a row crediting exactly nothing is noise in a report. The latest
	// touch weighs 1, so at least one group always survives.
	c.list = slices.DeleteFunc(c.list, func(cr Credit) bool { return cr.Credit == 0 })
	slices.SortFunc(c.list, func(a, b Credit) int {
		if a.Credit != b.Credit {
			return cmp.Compare(b.Credit, a.Credit)
		}
		return cmp.Or(
			strings.Compare(a.Channel, b.Channel),
			strings.Compare(a.Source, b.Source),
			strings.Compare(a.Campaign, b.Campaign),
		)
	})
	return c.list
}

func labels(t *Touch) creditKey {
	d := &t.Description
	k := creditKey{channel: d.Channel, source: sourceName(t), campaign: NoCampaign}
	if k.channel == "" {
		k.channel = UnassignedChannel
	}
	if d.Campaign != nil && d.Campaign.Campaign != "" {
		k.campaign = d.Campaign.Campaign
	}
	return k
}

// SourceName is the source label of a touch, as Credits groups it: the utm_source, else
// the referrer's name, else its host without "www.", else "(direct)".
func SourceName(t Touch) string { return sourceName(&t) }

// ReferrerName is the name key of a referrer (engine, network, client, site or
// assistant), "" when it has none.
func ReferrerName(r source.Referrer) string { return referrerName(&r) }

func sourceName(t *Touch) string {
	d := &t.Description
	if d.Campaign != nil && d.Campaign.Source != "" {
		return d.Campaign.Source
	}
	if name := referrerName(&d.Referrer); name != "" {
		return name
	}
	switch d.Referrer.Type {
	case source.TypeDirect, source.TypeInternal:
		// The referrer of a direct or internal visit is our own site, if anything.
		return DirectSource
	}
	if h := host(d.Referrer.From); h != "" {
		return h
	}
	if h := host(t.Referrer); h != "" {
		return h
	}
	return DirectSource
}

// referrerName is the name key the contract pairs with the referrer's type; the other
// name keys are tried after it so a description whose type and key disagree (say, an ad
// named by engine) still names its source.
func referrerName(r *source.Referrer) string {
	var own string
	switch r.Type {
	case source.TypeSearch:
		own = r.Engine
	case source.TypeSocial, source.TypeAd:
		own = r.Network
	case source.TypeEmail:
		own = r.Client
	case source.TypeLocal:
		own = r.Site
	case source.TypeAI:
		own = r.Assistant
	}
	return cmp.Or(own, r.Engine, r.Network, r.Client, r.Site, r.Assistant)
}

// host is the host of a referrer URL without "www.", as source reads hosts: lower case,
// without userinfo, port and trailing dot, and "" for what is no URL.
func host(u string) string {
	h := source.Host(u)
	if len(h) > len(wwwPrefix) && strings.HasPrefix(h, wwwPrefix) {
		h = h[len(wwwPrefix):]
	}
	return h
}
