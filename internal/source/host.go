package source

import "strings"

// parsedURL holds the parts of a URL detection needs, as substrings of the input: no
// allocation unless the host has upper-case letters.
type parsedURL struct {
	scheme string // as written; compare with strings.EqualFold
	host   string // lower case, without userinfo, port and trailing dot; "" if none
	path   string
	query  string // without '?' and fragment
	bad    bool   // something is there, but it is no URL we can read
}

// Host is the host of URL u as detection reads it: lower case, without userinfo, port
// and trailing dot; "" when u has none or is no URL we can read.
func Host(u string) string { return parseURL(u).host }

// parseURL is a lenient, allocation-free split of an absolute URL. net/url.Parse costs
// several allocations and rejects things browsers happily send (spaces, stray '%'),
// and detection only needs the host, path and query.
func parseURL(s string) parsedURL {
	var u parsedURL
	s = strings.TrimSpace(s)
	if s == "" {
		return u
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	rest := s
	if i := schemeEnd(s); i > 0 {
		u.scheme, rest = s[:i], s[i+1:]
	}
	if !strings.HasPrefix(rest, "//") {
		// "javascript:...", "about:blank", "mailto:..." or a bare path: no host.
		if u.scheme == "" {
			if strings.HasPrefix(rest, "/") {
				u.path, u.query = splitQuery(rest)
				return u
			}
			// A scheme-less "www.google.com/..." from a hand-written import: read it as
			// a host when it looks like one.
			rest = "//" + rest
			if p := parseURL(rest); p.host != "" && strings.Contains(p.host, ".") && !p.bad {
				return p
			}
			u.bad = true
		} else if !strings.EqualFold(u.scheme, "about") {
			u.bad = true
		}
		return u
	}
	rest = rest[2:]
	end := authorityEnd(rest)
	authority := rest
	if end >= 0 {
		authority, rest = rest[:end], rest[end:]
	} else {
		rest = ""
	}
	u.path, u.query = splitQuery(rest)
	host, ok := hostOf(authority)
	if !ok {
		u.bad = true
		return u
	}
	u.host = host
	return u
}

// authorityEnd finds where the host part ends; a hand loop, as strings.IndexAny
// builds its byte set on every call and showed up in profiles.
func authorityEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '/', '?', '\\':
			return i
		}
	}
	return -1
}

// schemeEnd returns the index of the ':' ending a URL scheme (RFC 3986: a letter then
// letters, digits, '+', '-', '.'), or -1.
func schemeEnd(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			return i
		default:
			return -1
		}
	}
	return -1
}

func splitQuery(s string) (path, query string) {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// hostOf turns an authority into a comparable host name. It is strict about which
// bytes a host may hold, so garbage is reported rather than matched.
func hostOf(authority string) (string, bool) {
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:]
	}
	h := authority
	if strings.HasPrefix(h, "[") { // IPv6 literal
		i := strings.IndexByte(h, ']')
		if i < 0 {
			return "", false
		}
		return strings.ToLower(h[:i+1]), true
	}
	if i := strings.IndexByte(h, ':'); i >= 0 {
		if !allDigits(h[i+1:]) {
			return "", false
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 || h[0] == '.' {
		return "", false
	}
	upper := false
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
		case 'A' <= c && c <= 'Z':
			upper = true
		case c >= 0x80:
			// An IDN written in Unicode: kept as is, it matches no rule (rules are
			// ASCII) but still compares equal to itself for same-host checks.
		default:
			return "", false
		}
	}
	if strings.Contains(h, "..") {
		return "", false
	}
	if upper {
		h = strings.ToLower(h)
	}
	return h, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// lookupHost finds the most specific rule for host and path, walking up the labels:
// a.b.example.co.uk tries a.b.example.co.uk, b.example.co.uk, example.co.uk, ...
// At each level an exact domain beats a "name.*" country pattern. Only whole labels
// are compared, so notgoogle.com and google.evil.com never match google.
func (t *table) lookupHost(host, path string) *site {
	tail1, tail2 := countryTails(host)
	for s := host; s != ""; {
		if hr := t.exact[s]; hr != nil {
			if st := hr.match(path); st != nil {
				return st
			}
		}
		if tail2 != "" && len(s) > len(tail2)+1 && s[len(s)-len(tail2)-1] == '.' {
			if hr := t.wild[s[:len(s)-len(tail2)-1]]; hr != nil {
				if st := hr.match(path); st != nil {
					return st
				}
			}
		}
		if tail1 != "" && len(s) > len(tail1)+1 && s[len(s)-len(tail1)-1] == '.' {
			if hr := t.wild[s[:len(s)-len(tail1)-1]]; hr != nil {
				if st := hr.match(path); st != nil {
					return st
				}
			}
		}
		i := strings.IndexByte(s, '.')
		if i < 0 {
			break
		}
		s = s[i+1:]
	}
	return nil
}

func (hr *hostRules) match(path string) *site {
	for _, ps := range hr.byPath {
		for _, p := range ps.paths {
			if hasPathPrefix(path, p) {
				return ps.site
			}
		}
	}
	return hr.plain
}

// hasPathPrefix reports whether path is prefix or below it: /maps matches /maps and
// /maps/place, not /mapsearch.
func hasPathPrefix(path, prefix string) bool {
	if len(path) < len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/' || prefix[len(prefix)-1] == '/'
}

// countryTails returns the endings a "name.*" pattern may stand on: the last label
// when it looks like a country or generic TLD (google.de, google.com), and the last
// two when they look like a country's second level (google.co.uk, google.com.br).
// This is deliberately narrower than the public suffix list: it only has to accept
// the domains big brands register per country, and to reject google.evil.com.
func countryTails(host string) (tail1, tail2 string) {
	i := strings.LastIndexByte(host, '.')
	if i < 0 {
		return "", ""
	}
	last := host[i+1:]
	if !isCountryTLD(last) {
		return "", ""
	}
	tail1 = last
	j := strings.LastIndexByte(host[:i], '.')
	second := host[j+1 : i]
	if len(last) == 2 && isSecondLevel(second) {
		tail2 = host[j+1:]
	}
	return tail1, tail2
}

func isCountryTLD(s string) bool {
	if len(s) == 2 && isLetter(s[0]) && isLetter(s[1]) {
		return true
	}
	switch s {
	case "com", "net", "org", "cat", "info":
		return true
	}
	return false
}

func isSecondLevel(s string) bool {
	switch s {
	case "co", "com", "ac", "ne", "or", "net", "org", "gob", "go", "edu", "gov", "nic":
		return true
	}
	return false
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' }

// sameSite reports whether two hosts are the same site, ignoring a leading "www.".
func sameSite(a, b string) bool {
	return strings.TrimPrefix(a, "www.") == strings.TrimPrefix(b, "www.")
}

// domainSet matches a host and all its subdomains against a set of domains.
type domainSet map[string]struct{}

func (s domainSet) contains(host string) bool {
	if len(s) == 0 || host == "" {
		return false
	}
	for h := host; ; {
		if _, ok := s[h]; ok {
			return true
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return false
		}
		h = h[i+1:]
	}
}

// newDomainSet accepts what people put in INTERNAL_DOMAINS: bare hosts, hosts with a
// scheme or path, "*.example.com", any case.
func newDomainSet(values []string) domainSet {
	s := domainSet{}
	for _, v := range values {
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(v, "*.")
		v = strings.TrimPrefix(v, ".")
		if v == "" {
			continue
		}
		raw := v
		if !strings.Contains(v, "//") {
			raw = "//" + v
		}
		if h := parseURL(raw).host; h != "" {
			s[h] = struct{}{}
		}
	}
	return s
}
