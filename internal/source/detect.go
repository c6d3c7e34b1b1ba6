package source

import (
	"fmt"
	"strings"
)

// Options configures a Detector. Both lists take hosts ("example.com"), and each entry
// also covers its subdomains; a scheme or path around the host is ignored.
type Options struct {
	// Rules are the referrer rules: the built-in ones when nil, or BuiltinRules with a
	// REFERERS_FILE on top (ReadReferers). Build them once per process and share them.
	Rules *Rules
	// InternalDomains are the customer's own sites (INTERNAL_DOMAINS): moving between
	// them is internal navigation, not a referral.
	InternalDomains []string
	// IgnoredReferrers are third parties a visitor passes through and returns from
	// (IGNORED_REFERRERS), on top of the payment and sign-in providers in rules.json.
	IgnoredReferrers []string
}

// Detector describes visits. It is immutable once built and safe for concurrent use.
type Detector struct {
	t        *table
	internal domainSet
}

// New builds a Detector over opts.Rules, or the embedded rules table. It is cheap: the
// rules are shared, only the internal hosts are the Detector's own.
func New(opts Options) *Detector {
	t := builtin
	if opts.Rules != nil {
		t = opts.Rules.t
	}
	return &Detector{
		t:        t,
		internal: newDomainSet(append(append([]string(nil), opts.InternalDomains...), opts.IgnoredReferrers...)),
	}
}

var defaultDetector = New(Options{})

// Detect describes a visit with the default Detector, which knows no internal domains
// beyond the landing page's own host.
func Detect(pageURL, referrer string) Description {
	return defaultDetector.Detect(pageURL, referrer)
}

// pageSignals is what the landing URL says on top of the referrer.
type pageSignals struct {
	utm      [5]string  // source, medium, campaign, term, content; decoded, first wins
	click    *paramRule // an ad click id
	hint     *paramRule // a non-ad id that names a site (fbclid, srsltid)
	category category   // from ids that only say what kind of traffic it is (mc_cid)
}

const (
	utmSource = iota
	utmMedium
	utmCampaign
	utmTerm
	utmContent
)

func (t *table) scanPage(query string) pageSignals {
	var s pageSignals
	var buf [32]byte
	for q := query; q != ""; {
		var k, v string
		k, v, q = nextParam(q)
		if v == "" {
			continue // "utm_source=" and a bare "gclid" carry no value to act on
		}
		key := lowerKey(&buf, k)
		if key == nil {
			continue
		}
		i := -1
		switch string(key) {
		case "utm_source":
			i = utmSource
		case "utm_medium":
			i = utmMedium
		case "utm_campaign":
			i = utmCampaign
		case "utm_term":
			i = utmTerm
		case "utm_content":
			i = utmContent
		}
		if i >= 0 {
			if s.utm[i] == "" {
				s.utm[i] = decode(v)
			}
			continue
		}
		p := t.params[string(key)]
		switch {
		case p == nil:
		case p.Type == TypeAd:
			if s.click == nil {
				s.click = p
			}
		case p.Type != "":
			if s.hint == nil {
				s.hint = p
			}
		case s.category == catNone:
			s.category = categoryNames[p.Category]
		}
	}
	return s
}

func (s *pageSignals) campaign() *Campaign {
	if s.utm == [5]string{} {
		return nil
	}
	return &Campaign{
		Source:   s.utm[utmSource],
		Medium:   s.utm[utmMedium],
		Campaign: s.utm[utmCampaign],
		Term:     s.utm[utmTerm],
		Content:  s.utm[utmContent],
	}
}

// Detect describes the visit that landed on pageURL from referrer. It never fails:
// missing or unreadable input gives direct or unknown.
//
// Precedence follows inbound (ad, local, social, search, email, internal, link, direct,
// unknown) with one deliberate change: an internal referrer wins over the landing
// URL's signals, because a click id or utm tag that survives an internal navigation
// says where the visit started, not where this page view came from.
func (d *Detector) Detect(pageURL, referrer string) Description {
	t := d.t
	if t == nil {
		// Only reachable by skipping config.Load, which refuses to start on this error.
		panic(fmt.Sprintf("source: no rules to detect with: %v", builtinErr))
	}
	page := parseURL(pageURL)
	ref := parseURL(referrer)
	sig := t.scanPage(page.query)

	var desc Description
	desc.Campaign = sig.campaign()
	r, st := d.classify(page, ref, strings.TrimSpace(pageURL), strings.TrimSpace(referrer))
	if r.Type == TypeInternal {
		desc.Referrer = r
		desc.Channel = ChannelInternal
		return desc
	}

	// cat is what the traffic is for the channel group; GA4 lets an explicit
	// utm_source speak over the referrer.
	var cat category
	if st != nil {
		cat = st.category
		if st.typ == TypeAd {
			cat = t.brandCategory(st.name, cat)
		}
	} else if r.Type == TypeLink {
		cat = catReferral
	}
	src := sig.utm[utmSource]
	var srcSite *site
	if src != "" {
		var srcCat category
		srcSite, srcCat = t.resolveSource(src)
		cat = srcCat
	}
	medium := lowerASCII(sig.utm[utmMedium])
	med := t.medium(medium)

	switch {
	case sig.click != nil:
		r = Referrer{Type: TypeAd, Network: sig.click.Name, Query: r.Query}
		cat = t.brandCategory(sig.click.Name, categoryNames[sig.click.Category])
	case med == catPaid || med == catDisplay:
		network := ""
		switch {
		case srcSite != nil:
			network = srcSite.name
		case st != nil && st.typ != TypeLink:
			network = st.name
		case src != "":
			network = lowerASCII(src)
		}
		r = Referrer{Type: TypeAd, Network: network, Query: r.Query}
	case srcSite != nil && srcSite.typ == TypeAI:
		r = Referrer{Type: TypeAI, Assistant: srcSite.name}
	case sig.hint != nil && (r.Type == TypeDirect || st != nil && st.name == sig.hint.Name):
		if r.Type == TypeDirect {
			r = named(sig.hint.Type, sig.hint.Name)
		}
		if src == "" {
			cat = t.brandCategory(sig.hint.Name, categoryNames[sig.hint.Category])
		}
	}
	if cat == catNone && src == "" && medium == "" {
		cat = sig.category
	}
	desc.Referrer = r
	desc.Channel = channel(r.Type, cat, med, desc.Campaign)
	return desc
}

// classify says what the referrer alone was, and which rule said so (nil for none).
func (d *Detector) classify(page, ref parsedURL, pageURL, referrer string) (Referrer, *site) {
	if referrer == "" || ref.host == "" && !ref.bad && strings.EqualFold(ref.scheme, "about") ||
		referrer == "null" || referrer == "undefined" {
		// about:blank, and what JavaScript makes of a missing value, mean no referrer.
		return Referrer{Type: TypeDirect}, nil
	}
	if ref.host == "" || ref.bad {
		return Referrer{Type: TypeUnknown}, nil
	}
	if strings.EqualFold(ref.scheme, "android-app") || strings.EqualFold(ref.scheme, "ios-app") {
		if st := d.t.apps[ref.host]; st != nil {
			return d.describe(st, ref, pageURL, referrer), st
		}
		return Referrer{Type: TypeLink, From: referrer, Link: pageURL}, nil
	}
	if page.host != "" && sameSite(ref.host, page.host) || d.internal.contains(ref.host) {
		return Referrer{Type: TypeInternal}, nil
	}
	if st := d.t.lookupHost(ref.host, ref.path); st != nil {
		return d.describe(st, ref, pageURL, referrer), st
	}
	return Referrer{Type: TypeLink, From: referrer, Link: pageURL}, nil
}

func (d *Detector) describe(st *site, ref parsedURL, pageURL, referrer string) Referrer {
	r := named(st.typ, st.name)
	switch st.typ {
	case TypeEmail, TypeLink:
		r.From, r.Link = referrer, pageURL
		if st.showName {
			r.Site = st.name
		}
	case TypeSearch, TypeLocal, TypeAd:
		r.Query = searchTerms(st, ref.query)
	}
	return r
}

// named builds a Referrer with the name under the key its type uses.
func named(t Type, name string) Referrer {
	r := Referrer{Type: t}
	switch t {
	case TypeSearch:
		r.Engine = name
	case TypeSocial, TypeAd:
		r.Network = name
	case TypeEmail:
		r.Client = name
	case TypeLocal:
		r.Site = name
	case TypeAI:
		r.Assistant = name
	}
	return r
}

func searchTerms(st *site, query string) string {
	if query == "" {
		return ""
	}
	for _, name := range st.query {
		v := queryValue(query, name)
		// Google's /url redirect puts the destination, not the search, in q.
		if v != "" && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
			return v
		}
	}
	return ""
}

// resolveSource reads a utm_source: a site's name or alias ("facebook", "fb"), a site's
// domain ("chatgpt.com", "l.facebook.com"), or a channel word ("newsletter").
func (t *table) resolveSource(src string) (*site, category) {
	var buf [64]byte
	var key string
	if len(src) <= len(buf) {
		b := buf[:len(src)]
		for i := 0; i < len(src); i++ {
			c := src[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
		if st := t.names[string(b)]; st != nil {
			return st, t.brandCategory(st.name, st.category)
		}
		if c, ok := t.utmClass[string(b)]; ok {
			return nil, c
		}
		if !strings.Contains(src, ".") {
			return nil, catNone
		}
		key = string(b)
	} else {
		key = strings.ToLower(src)
	}
	if h, ok := hostOf(strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")); ok {
		if st := t.lookupHost(h, ""); st != nil && st.typ != TypeInternal {
			return st, t.brandCategory(st.name, st.category)
		}
	}
	return nil, catNone
}

// brandCategory is what a name means for the channel when a rule only names it: an ad
// from "google" is search, one from "tiktok" social. An explicit category wins.
func (t *table) brandCategory(name string, explicit category) category {
	if explicit != catNone && explicit != catPaid {
		return explicit
	}
	if st := t.names[name]; st != nil && st.category != catPaid {
		return st.category
	}
	return explicit
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
