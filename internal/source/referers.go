package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rules are compiled referrer rules: the built-in rules.json, with the entries of a
// REFERERS_FILE on top. They are immutable, so one value is shared by every Detector
// and goroutine of a process.
type Rules struct{ t *table }

// BuiltinRules are the rules embedded from rules.json. The error means the binary was
// built from a broken rules.json; nothing must start with it.
func BuiltinRules() (*Rules, error) {
	if builtinErr != nil {
		return nil, builtinErr
	}
	return &Rules{t: builtin}, nil
}

// ReadReferers reads a file in Snowplow referer-parser's referers.yml format and
// returns the built-in rules with its entries on top (see ParseReferers).
func ReadReferers(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read referers file: %w", err)
	}
	return ParseReferers(path, data)
}

// refererMedia maps referers.yml's media to referrer types.
var refererMedia = map[string]Type{
	"search":  TypeSearch,
	"social":  TypeSocial,
	"email":   TypeEmail,
	"paid":    TypeAd,
	"chatbot": TypeAI,
	"unknown": TypeLink,
}

const refererMediaList = "search, social, email, paid, chatbot, unknown"

// ParseReferers reads data, named name in errors, in referers.yml's format:
//
//	search:                  # medium: search, social, email, paid, chatbot or unknown
//	  Example Search:        # source name
//	    parameters: [q]      # the query parameters holding the terms (search, paid)
//	    domains:
//	      - search.example   # a host; it covers its subdomains
//	      - example.com/find # a host below a path
//
// and returns the built-in rules with its entries on top. paid is the type ad, chatbot
// ai, and unknown link with the source's name under "site". An entry wins over the
// built-in rules for the host (and path) it names and for that host's subdomains,
// except a subdomain the built-in rules name themselves: the most specific rule wins,
// as everywhere in this package, so naming example.com leaves a built-in
// mail.example.com alone; name the subdomain to take it over too. Hosts the built-in
// rules count as payment or sign-in providers stay internal, as IGNORED_REFERRERS do: a
// return from checkout is never a new touch. Android app ids listed among the domains
// (com.example.app), as referers.yml does, also match android-app:// referrers.
//
// A file with anything else, an unknown medium, a source without domains, a domain
// that is no host, the same domain twice, or broken YAML, is an error naming the line
// ("referers.yml:12: ...").
func ParseReferers(name string, data []byte) (*Rules, error) {
	base, err := BuiltinRules()
	if err != nil {
		return nil, err
	}
	entries, err := parseReferers(name, data)
	if err != nil {
		return nil, err
	}
	return &Rules{t: base.t.with(entries)}, nil
}

// refererEntry is one domain of a referers.yml source.
type refererEntry struct {
	host, path string // path "" for the whole host
	site       *site
}

type refererParser struct {
	name    string
	entries []refererEntry
	seen    map[string]int // host + "/" + path → line
}

func (p *refererParser) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", p.name, n.Line, fmt.Sprintf(format, args...))
}

func parseReferers(name string, data []byte) ([]refererEntry, error) {
	p := &refererParser{name: name, seen: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty: want media (%s) mapping sources to their domains", name, refererMediaList)
		}
		return nil, p.yamlError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		return nil, p.errorf(&next, "a second YAML document: the file holds one")
	} else if !errors.Is(err, io.EOF) {
		return nil, p.yamlError(err)
	}
	root := resolve(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = resolve(root.Content[0])
	}
	if root.Kind != yaml.MappingNode {
		return nil, p.errorf(root, "want media (%s) mapping sources to their domains", refererMediaList)
	}
	media := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, value := resolve(root.Content[i]), resolve(root.Content[i+1])
		typ, ok := refererMedia[key.Value]
		if key.Kind != yaml.ScalarNode || !ok {
			return nil, p.errorf(key, "unknown medium %q (want one of %s)", key.Value, refererMediaList)
		}
		if line, dup := media[key.Value]; dup {
			return nil, p.errorf(key, "medium %s again (first on line %d)", key.Value, line)
		}
		media[key.Value] = key.Line
		if err := p.medium(typ, value); err != nil {
			return nil, err
		}
	}
	return p.entries, nil
}

// medium reads the sources of one medium; an empty medium is allowed (a section whose
// entries are all commented out).
func (p *refererParser) medium(typ Type, n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return p.errorf(n, "want sources, each with its domains")
	}
	names := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, value := resolve(n.Content[i]), resolve(n.Content[i+1])
		name := strings.TrimSpace(key.Value)
		if key.Kind != yaml.ScalarNode || name == "" || isNull(key) {
			return p.errorf(key, "a source needs a name")
		}
		if line, dup := names[name]; dup {
			return p.errorf(key, "source %q again in this medium (first on line %d)", name, line)
		}
		names[name] = key.Line
		if err := p.source(typ, name, key, value); err != nil {
			return err
		}
	}
	return nil
}

func (p *refererParser) source(typ Type, name string, key, n *yaml.Node) error {
	if isNull(n) {
		return p.errorf(key, "source %q has no domains", name)
	}
	if n.Kind != yaml.MappingNode {
		return p.errorf(n, "source %q: want domains (and, for search, parameters)", name)
	}
	var domains, params *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		var into **yaml.Node
		switch k.Value {
		case "domains":
			into = &domains
		case "parameters":
			into = &params
		default:
			return p.errorf(k, "source %q: unknown key %q (want domains, parameters)", name, k.Value)
		}
		if *into != nil {
			return p.errorf(k, "source %q: %s again", name, k.Value)
		}
		*into = v
	}
	if domains == nil || isNull(domains) || domains.Kind == yaml.SequenceNode && len(domains.Content) == 0 {
		return p.errorf(key, "source %q has no domains", name)
	}
	if domains.Kind != yaml.SequenceNode {
		return p.errorf(domains, "source %q: domains must be a list", name)
	}
	s := &site{typ: typ, name: name, category: defaultCategory(typ), showName: typ == TypeLink}
	if params != nil && !isNull(params) {
		if params.Kind != yaml.SequenceNode {
			return p.errorf(params, "source %q: parameters must be a list", name)
		}
		for _, v := range params.Content {
			v = resolve(v)
			param := strings.TrimSpace(v.Value)
			if v.Kind != yaml.ScalarNode || param == "" || isNull(v) {
				return p.errorf(v, "source %q: a parameter must be a name", name)
			}
			// Only a search or an ad describes its terms (Referrer.Query); other media
			// may list parameters, as referers.yml's own unknown entries do, to no effect.
			if typ == TypeSearch || typ == TypeAd {
				s.query = append(s.query, param)
			}
		}
	}
	for _, v := range domains.Content {
		v = resolve(v)
		if v.Kind != yaml.ScalarNode || isNull(v) {
			return p.errorf(v, "source %q: a domain must be a host name", name)
		}
		host, path, err := parseRefererDomain(v.Value)
		if err != nil {
			return p.errorf(v, "source %q: %v", name, err)
		}
		key := host + path
		if line, dup := p.seen[key]; dup {
			return p.errorf(v, "domain %q again (first on line %d)", key, line)
		}
		p.seen[key] = v.Line
		p.entries = append(p.entries, refererEntry{host: host, path: path, site: s})
	}
	return nil
}

// parseRefererDomain splits "example.com/search" into a host and a path ("" for the
// whole host), both lower case, and refuses anything that is not a plain host name.
func parseRefererDomain(domain string) (host, path string, err error) {
	d := strings.ToLower(strings.TrimSpace(domain))
	host = d
	if i := strings.IndexByte(d, '/'); i >= 0 {
		host, path = d[:i], d[i:]
	}
	bad := host == "" || len(host) > 253 || host[0] == '.' || host[len(host)-1] == '.' ||
		strings.Contains(host, "..") || strings.ContainsAny(path, "?#* \t")
	for i := 0; i < len(host) && !bad; i++ {
		c := host[i]
		bad = !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_')
	}
	if bad {
		return "", "", fmt.Errorf("bad domain %q: want a host name, optionally with a path (example.com, example.com/search)", domain)
	}
	if path == "/" {
		path = ""
	}
	return host, path, nil
}

// with returns a copy of t with entries on top; t itself is left as it was. Maps the
// entries do not touch are shared, as tables are read-only once built.
func (t *table) with(entries []refererEntry) *table {
	n := *t
	n.exact = maps.Clone(t.exact)
	n.apps = maps.Clone(t.apps)
	n.names = maps.Clone(t.names)
	type taken struct {
		plain *site
		paths []pathSite // in the file's order
	}
	var order []string
	mine := map[string]*taken{} // hosts the entries name
	var kept []*site
	for _, e := range entries {
		path := e.path
		if path == "" {
			path = "/"
		}
		if st := t.lookupHost(e.host, path); st != nil && st.typ == TypeInternal {
			continue // a payment or sign-in provider: see ParseReferers
		}
		kept = append(kept, e.site)
		h := mine[e.host]
		if h == nil {
			h = &taken{}
			mine[e.host] = h
			order = append(order, e.host)
		}
		if e.path == "" {
			h.plain = e.site
			n.apps[e.host] = e.site
			n.names[e.host] = e.site
		} else {
			h.paths = append(h.paths, pathSite{paths: []string{e.path}, site: e.site})
		}
	}
	for _, host := range order {
		h := mine[host]
		hr := &hostRules{plain: h.plain, byPath: h.paths}
		if old := t.exact[host]; old != nil && h.plain == nil {
			// The entries name some paths of the host: the built-in rules keep the
			// others. An entry for the whole host speaks for every path of it.
			hr.plain = old.plain
			hr.byPath = append(hr.byPath[:len(hr.byPath):len(hr.byPath)], old.byPath...)
		}
		n.exact[host] = hr
	}
	// utm_source=<name> resolves to a source of the file only where no built-in rule
	// claims the name: google stays the built-in search engine.
	for _, s := range kept {
		if k := strings.ToLower(s.name); n.names[k] == nil {
			n.names[k] = s
		}
	}
	return &n
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// yamlLine matches the line yaml reports its syntax errors on.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns "yaml: line 12: ..." into "name:12: ...".
func (p *refererParser) yamlError(err error) error {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if line, perr := strconv.Atoi(m[1]); perr == nil {
			return fmt.Errorf("%s:%d: %s", p.name, line, m[2])
		}
	}
	return fmt.Errorf("%s: %s", p.name, strings.TrimPrefix(msg, "yaml: "))
}
