package source

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

// rulesJSON is the one table of sites, landing-URL parameters and utm_medium classes.
// It is data so that a marketer can extend it without reading the matcher.
//
//go:embed rules.json
var rulesJSON []byte

// Category is what a source means for the channel group, independent of its Type:
// YouTube is a social network whose visits GA4 counts as video.
type category uint8

const (
	catNone category = iota
	catSearch
	catSocial
	catVideo
	catShopping
	catEmail
	catAI
	catReferral
	catDisplay
	catPaid
	catAffiliate
	catAudio
	catSMS
	catPush
)

var categoryNames = map[string]category{
	"search": catSearch, "social": catSocial, "video": catVideo, "shopping": catShopping,
	"email": catEmail, "ai": catAI, "referral": catReferral, "display": catDisplay,
	"paid": catPaid, "affiliate": catAffiliate, "audio": catAudio, "sms": catSMS, "push": catPush,
}

// ruleFile mirrors rules.json.
type ruleFile struct {
	Sources    []sourceRule          `json:"sources"`
	Params     []paramRule           `json:"params"`
	Mediums    map[string]mediumRule `json:"mediums"`
	UTMSources map[string][]string   `json:"utmSources"`
	About      []string              `json:"about"`
}

type sourceRule struct {
	Type     Type     `json:"type"`
	Name     string   `json:"name"`
	Category string   `json:"category"`
	Domains  []string `json:"domains"`
	Paths    []string `json:"paths"`
	Apps     []string `json:"apps"`
	Query    []string `json:"query"`
	Aliases  []string `json:"aliases"`
}

type paramRule struct {
	Param    string `json:"param"`
	Type     Type   `json:"type"`
	Name     string `json:"name"`
	Category string `json:"category"`
}

type mediumRule struct {
	Exact    []string `json:"exact"`
	Prefix   []string `json:"prefix"`
	Suffix   []string `json:"suffix"`
	Contains []string `json:"contains"`
}

// site is one compiled source entry.
type site struct {
	typ      Type
	name     string
	category category
	query    []string
	// showName puts the name of a link under "site": REFERERS_FILE's unknown medium
	// names its sources, the built-in link rules only group hosts.
	showName bool
}

// pathSite is a site that only applies below some referrer path prefixes.
type pathSite struct {
	paths []string
	site  *site
}

// hostRules are the sites registered for one domain key: the path-specific ones are
// tried first, then the plain one.
type hostRules struct {
	byPath []pathSite
	plain  *site
}

// table is rules.json compiled into maps, built once and read-only afterwards, so one
// table is safely shared by every Detector and goroutine.
type table struct {
	exact    map[string]*hostRules // "facebook.com"
	wild     map[string]*hostRules // "google" for "google.*"
	apps     map[string]*site      // android package name
	names    map[string]*site      // lower-case name or alias, for utm_source
	params   map[string]*paramRule // lower-case parameter name
	mediums  []compiledMedium
	utmClass map[string]category // utm_source values such as "newsletter"
}

type compiledMedium struct {
	cat category
	mediumRule
}

func compileRules(data []byte) (*table, error) {
	var f ruleFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt key would otherwise silently drop a rule
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	t := &table{
		exact:    map[string]*hostRules{},
		wild:     map[string]*hostRules{},
		apps:     map[string]*site{},
		names:    map[string]*site{},
		params:   map[string]*paramRule{},
		utmClass: map[string]category{},
	}
	sites := make([]*site, 0, len(f.Sources))
	for i, r := range f.Sources {
		s, err := compileSite(r)
		if err != nil {
			return nil, fmt.Errorf("rules: sources[%d] %q: %w", i, r.Name, err)
		}
		for _, d := range r.Domains {
			if err := t.addDomain(d, r.Paths, s); err != nil {
				return nil, fmt.Errorf("rules: sources[%d] %q: %w", i, r.Name, err)
			}
		}
		for _, a := range r.Apps {
			key := strings.ToLower(a)
			if _, dup := t.apps[key]; dup {
				return nil, fmt.Errorf("rules: sources[%d] %q: app %q listed twice", i, r.Name, a)
			}
			t.apps[key] = s
		}
		sites = append(sites, s)
	}
	// utm_source spellings: a name, an alias, or a plain domain (utm_source=chatgpt.com).
	// A name means its brand: google is the search engine, not Google Maps or the ad
	// server, so entries claim names in this type order, plain entries before those
	// with a special category. Payment and sign-in providers are never a source.
	for _, pass := range brandOrder {
		for i, r := range f.Sources {
			if r.Type != pass.typ || len(r.Paths) > 0 || (r.Category == "") != pass.plain {
				continue
			}
			for _, n := range append(append([]string{r.Name}, r.Aliases...), r.Domains...) {
				if k := strings.ToLower(n); !strings.HasSuffix(k, ".*") && t.names[k] == nil {
					t.names[k] = sites[i]
				}
			}
		}
	}
	for i := range f.Params {
		p := &f.Params[i]
		if p.Param == "" {
			return nil, fmt.Errorf("rules: params[%d]: empty param", i)
		}
		if p.Type != "" && !isNamedType(p.Type) {
			return nil, fmt.Errorf("rules: params[%d] %q: type %q cannot come from a parameter", i, p.Param, p.Type)
		}
		if p.Type != "" && p.Name == "" {
			return nil, fmt.Errorf("rules: params[%d] %q: a type needs a name", i, p.Param)
		}
		if p.Category != "" {
			if _, ok := categoryNames[p.Category]; !ok {
				return nil, fmt.Errorf("rules: params[%d] %q: unknown category %q", i, p.Param, p.Category)
			}
		}
		t.params[strings.ToLower(p.Param)] = p
	}
	// Fixed order: the first class whose matcher fits wins, and the order must not
	// depend on map iteration.
	for _, name := range []string{"paid", "display", "social", "video", "search", "referral", "email", "affiliate", "audio", "sms", "push"} {
		if m, ok := f.Mediums[name]; ok {
			t.mediums = append(t.mediums, compiledMedium{cat: categoryNames[name], mediumRule: m})
		}
	}
	for name := range f.Mediums {
		if _, ok := categoryNames[name]; !ok {
			return nil, fmt.Errorf("rules: mediums: unknown class %q", name)
		}
	}
	for name, values := range f.UTMSources {
		c, ok := categoryNames[name]
		if !ok {
			return nil, fmt.Errorf("rules: utmSources: unknown class %q", name)
		}
		for _, v := range values {
			t.utmClass[strings.ToLower(v)] = c
		}
	}
	return t, nil
}

var brandOrder = func() (order []struct {
	typ   Type
	plain bool
}) {
	for _, t := range []Type{TypeSearch, TypeSocial, TypeAI, TypeEmail, TypeLocal, TypeLink, TypeAd} {
		for _, plain := range []bool{true, false} {
			order = append(order, struct {
				typ   Type
				plain bool
			}{t, plain})
		}
	}
	return order
}()

func compileSite(r sourceRule) (*site, error) {
	switch r.Type {
	case TypeSearch, TypeSocial, TypeEmail, TypeAd, TypeLocal, TypeAI, TypeInternal, TypeLink:
	default:
		return nil, fmt.Errorf("type %q is not a referrer type", r.Type)
	}
	if r.Name == "" {
		return nil, fmt.Errorf("empty name")
	}
	if len(r.Domains) == 0 && len(r.Apps) == 0 {
		return nil, fmt.Errorf("no domains or apps")
	}
	c := defaultCategory(r.Type)
	if r.Category != "" {
		var ok bool
		if c, ok = categoryNames[r.Category]; !ok {
			return nil, fmt.Errorf("unknown category %q", r.Category)
		}
	}
	return &site{typ: r.Type, name: r.Name, category: c, query: r.Query}, nil
}

func (t *table) addDomain(domain string, paths []string, s *site) error {
	d := strings.ToLower(strings.TrimSpace(domain))
	m := t.exact
	if rest, ok := strings.CutSuffix(d, ".*"); ok {
		d, m = rest, t.wild
	}
	if d == "" || strings.ContainsAny(d, "*/:@ ") {
		return fmt.Errorf("bad domain %q", domain)
	}
	hr := m[d]
	if hr == nil {
		hr = &hostRules{}
		m[d] = hr
	}
	if len(paths) == 0 {
		if hr.plain != nil {
			return fmt.Errorf("domain %q already belongs to %s %q", domain, hr.plain.typ, hr.plain.name)
		}
		hr.plain = s
		return nil
	}
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("path %q must start with /", p)
		}
	}
	hr.byPath = append(hr.byPath, pathSite{paths: paths, site: s})
	return nil
}

func isNamedType(t Type) bool {
	switch t {
	case TypeSearch, TypeSocial, TypeEmail, TypeAd, TypeLocal, TypeAI:
		return true
	}
	return false
}

func defaultCategory(t Type) category {
	switch t {
	case TypeSearch:
		return catSearch
	case TypeSocial:
		return catSocial
	case TypeEmail:
		return catEmail
	case TypeAI:
		return catAI
	case TypeAd:
		return catPaid
	case TypeLocal, TypeLink:
		return catReferral
	}
	return catNone
}

// medium classifies a utm_medium value; medium must already be lower case.
func (t *table) medium(medium string) category {
	if medium == "" {
		return catNone
	}
	for _, m := range t.mediums {
		if m.matches(medium) {
			return m.cat
		}
	}
	return catNone
}

func (m *compiledMedium) matches(v string) bool {
	for _, s := range m.Exact {
		if v == s {
			return true
		}
	}
	for _, s := range m.Prefix {
		if strings.HasPrefix(v, s) {
			return true
		}
	}
	for _, s := range m.Suffix {
		if strings.HasSuffix(v, s) {
			return true
		}
	}
	for _, s := range m.Contains {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// builtin is the embedded table, compiled once; builtinErr says why it could not be.
// A broken rules.json must never become an empty table that calls every visit a link:
// config.Load returns builtinErr (BuiltinRules), so every binary refuses to start with
// it, and a Detector built around that (New without Rules) panics on first use instead
// of answering. Package initialisation itself never fails, so the error reaches main
// as an error, with the usual message and exit status.
var builtin, builtinErr = compileBuiltin(rulesJSON)

func compileBuiltin(data []byte) (*table, error) {
	t, err := compileRules(data)
	if err != nil {
		return nil, fmt.Errorf("built-in rules.json: %w", err)
	}
	return t, nil
}
