package source

import (
	"strings"
	"testing"
)

func readTestReferers(t *testing.T) *Detector {
	t.Helper()
	rules, err := ReadReferers("testdata/referers.yml")
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Rules: rules})
}

func TestReferersFile(t *testing.T) {
	d := readTestReferers(t)
	const page = "https://www.acme.test/pricing"
	tests := []struct {
		referrer string
		want     Referrer
		channel  string
	}{
		// Every medium.
		{"https://search.example.org/?q=crm+tools", Referrer{Type: TypeSearch, Engine: "Example Search", Query: "crm tools"}, ChannelOrganicSearch},
		{"https://www.search.example.org/?query=crm", Referrer{Type: TypeSearch, Engine: "Example Search", Query: "crm"}, ChannelOrganicSearch},
		{"https://social.example.org/post/1", Referrer{Type: TypeSocial, Network: "Example Social"}, ChannelOrganicSocial},
		{"android-app://com.example.social/", Referrer{Type: TypeSocial, Network: "Example Social"}, ChannelOrganicSocial},
		{"https://webmail.example.net/", Referrer{Type: TypeEmail, Client: "Example Mail", From: "https://webmail.example.net/", Link: page}, ChannelEmail},
		{"https://deref.example.net/?u=x", Referrer{Type: TypeEmail, Client: "Example Mail", From: "https://deref.example.net/?u=x", Link: page}, ChannelEmail},
		{"https://ads.example.org/click?kw=crm", Referrer{Type: TypeAd, Network: "Example Ads", Query: "crm"}, ChannelPaidOther},
		{"https://assistant.example.ai/", Referrer{Type: TypeAI, Assistant: "Example Assistant"}, ChannelAIAssistants},
		{"https://portal.example.org/?text=crm", Referrer{Type: TypeLink, Site: "Example Portal", From: "https://portal.example.org/?text=crm", Link: page}, ChannelReferral},
		// A path: the host's other paths are no one's.
		{"https://find.example.net/results?q=crm", Referrer{Type: TypeSearch, Engine: "Example Search", Query: "crm"}, ChannelOrganicSearch},
		{"https://find.example.net/", Referrer{Type: TypeLink, From: "https://find.example.net/", Link: page}, ChannelReferral},
		// Overrides of built-in hosts, and what the built-in rules keep.
		{"https://news.ycombinator.com/item?id=1", Referrer{Type: TypeLink, Site: "Hacker News", From: "https://news.ycombinator.com/item?id=1", Link: page}, ChannelReferral},
		{"https://www.google.com/search?q=crm", Referrer{Type: TypeSearch, Engine: "Google Web", Query: "crm"}, ChannelOrganicSearch},
		{"https://google.com/maps/place/x", Referrer{Type: TypeSearch, Engine: "Google Web"}, ChannelOrganicSearch},
		{"https://mail.google.com/", Referrer{Type: TypeEmail, Client: "gmail", From: "https://mail.google.com/", Link: page}, ChannelEmail},
		{"https://www.google.co.uk/", Referrer{Type: TypeSearch, Engine: "google"}, ChannelOrganicSearch},
		{"https://www.google.co.uk/maps", Referrer{Type: TypeLocal, Site: "google"}, ChannelReferral},
		{"https://outlook.com/calendar/view", Referrer{Type: TypeLink, Site: "Outlook Calendar", From: "https://outlook.com/calendar/view", Link: page}, ChannelReferral},
		{"https://outlook.com/mail/inbox", Referrer{Type: TypeEmail, Client: "outlook", From: "https://outlook.com/mail/inbox", Link: page}, ChannelEmail},
		// Payment and sign-in providers stay internal whatever the file says.
		{"https://checkout.stripe.com/pay/cs_1", Referrer{Type: TypeInternal}, ChannelInternal},
		// Untouched built-in rules.
		{"https://duckduckgo.com/", Referrer{Type: TypeSearch, Engine: "duckduckgo"}, ChannelOrganicSearch},
	}
	for _, tt := range tests {
		got := d.Detect(page, tt.referrer)
		if got.Referrer != tt.want || got.Channel != tt.channel {
			t.Errorf("Detect(%q) = %+v %q, want %+v %q", tt.referrer, got.Referrer, got.Channel, tt.want, tt.channel)
		}
	}
	// A file changes only the Detectors built with it.
	if got := Detect(page, "https://news.ycombinator.com/").Referrer; got != (Referrer{Type: TypeSocial, Network: "hackernews"}) {
		t.Errorf("the default Detector sees the file: %+v", got)
	}
	// utm_source names a source of the file, unless a built-in rule has the name.
	if got := d.Detect(page+"?utm_source=example+assistant", "").Referrer; got != (Referrer{Type: TypeAI, Assistant: "Example Assistant"}) {
		t.Errorf("utm_source=example assistant: %+v", got)
	}
	if got := d.Detect(page+"?utm_source=google&utm_medium=cpc", "").Referrer; got != (Referrer{Type: TypeAd, Network: "google"}) {
		t.Errorf("utm_source=google: %+v", got)
	}
}

func TestReferersFileErrors(t *testing.T) {
	for name, tt := range map[string]struct{ yml, want string }{
		"syntax":              {"search:\n  A:\n    domains: [a.example\n", "refs.yml:2: did not find expected"},
		"tab indentation":     {"search:\n\tA:\n", "refs.yml:2: "},
		"empty":               {"# nothing yet\n", "refs.yml: empty"},
		"not a mapping":       {"- search\n", "refs.yml:1: want media"},
		"unknown medium":      {"search: {}\nvideo:\n  A:\n    domains: [a.example]\n", `refs.yml:2: unknown medium "video"`},
		"medium twice":        {"email:\n  A:\n    domains: [a.example]\nemail:\n  B:\n    domains: [b.example]\n", "refs.yml:4: medium email again (first on line 1)"},
		"medium not sources":  {"social: [a.example]\n", "refs.yml:1: want sources"},
		"source twice":        {"social:\n  A:\n    domains: [a.example]\n  A:\n    domains: [b.example]\n", `refs.yml:4: source "A" again`},
		"no domains key":      {"search:\n  A:\n    parameters: [q]\n", `refs.yml:2: source "A" has no domains`},
		"empty domains":       {"search:\n  A:\n    domains: []\n", `refs.yml:2: source "A" has no domains`},
		"null source":         {"search:\n  A:\n", `refs.yml:2: source "A" has no domains`},
		"domains not a list":  {"search:\n  A:\n    domains: a.example\n", "refs.yml:3: "},
		"misspelt key":        {"search:\n  A:\n    domain: [a.example]\n", `refs.yml:3: source "A": unknown key "domain"`},
		"key twice":           {"search:\n  A:\n    domains: [a.example]\n    domains: [b.example]\n", `refs.yml:4: source "A": domains again`},
		"scheme":              {"search:\n  A:\n    domains:\n      - https://a.example/\n", `refs.yml:4: source "A": bad domain "https://a.example/"`},
		"wildcard":            {"search:\n  A:\n    domains:\n      - a.example\n      - google.*\n", `refs.yml:5: source "A": bad domain "google.*"`},
		"port":                {"search:\n  A:\n    domains: [a.example:8080]\n", `refs.yml:3: source "A": bad domain`},
		"space":               {"search:\n  A:\n    domains: [a example.com]\n", `refs.yml:3: source "A": bad domain`},
		"empty label":         {"search:\n  A:\n    domains: [a..example]\n", `refs.yml:3: source "A": bad domain`},
		"domain a mapping":    {"search:\n  A:\n    domains:\n      - {host: a.example}\n", `refs.yml:4: source "A": a domain must be a host name`},
		"domain twice":        {"search:\n  A:\n    domains: [a.example]\nsocial:\n  B:\n    domains:\n      - A.example\n", `refs.yml:7: domain "a.example" again (first on line 3)`},
		"path twice":          {"search:\n  A:\n    domains: [a.example/s, a.example/s/]\n", ""},
		"parameters a string": {"search:\n  A:\n    parameters: q\n    domains: [a.example]\n", `refs.yml:3: source "A": parameters must be a list`},
		"empty parameter":     {"search:\n  A:\n    parameters: ['']\n    domains: [a.example]\n", `refs.yml:3: source "A": a parameter must be a name`},
		"no source name":      {"search:\n  '':\n    domains: [a.example]\n", "refs.yml:2: a source needs a name"},
		"two documents":       {"search:\n  A:\n    domains: [a.example]\n---\nsocial: {}\n", "refs.yml:4: a second YAML document"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseReferers("refs.yml", []byte(tt.yml))
			if tt.want == "" { // allowed: a different path is a different rule
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("parsed without error, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestReferersFileUnreadable(t *testing.T) {
	_, err := ReadReferers("testdata/no-such-referers.yml")
	if err == nil || !strings.Contains(err.Error(), "testdata/no-such-referers.yml") {
		t.Fatalf("error %v, want one naming the file", err)
	}
}

// TestReferersFileLeavesBuiltinAlone: the built-in table is shared; a file builds a
// table of its own.
func TestReferersFileLeavesBuiltinAlone(t *testing.T) {
	before := len(builtin.exact)
	readTestReferers(t)
	if len(builtin.exact) != before || builtin.lookupHost("news.ycombinator.com", "/").name != "hackernews" {
		t.Fatal("reading a referers file changed the built-in table")
	}
}

func TestEmptyMediaAreAllowed(t *testing.T) {
	rules, err := ParseReferers("refs.yml", []byte("search:\nsocial: {}\nemail:\n  A:\n    domains: [a.example]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := New(Options{Rules: rules}).Detect(landing, "https://a.example/").Referrer.Client; got != "A" {
		t.Errorf("client %q, want A", got)
	}
}

func TestBrokenBuiltinRulesFailLoudly(t *testing.T) {
	tab, err := compileBuiltin([]byte(`{"sources": [{"type": "search", "name": "x"}]}`))
	if err == nil || tab != nil {
		t.Fatalf("compileBuiltin on a broken file = %v, %v; want no table and an error", tab, err)
	}
	if !strings.HasPrefix(err.Error(), "built-in rules.json: ") {
		t.Errorf("error %q does not say it is the built-in rules.json", err)
	}
	// A Detector left without rules refuses to answer rather than call everything a link.
	d := &Detector{}
	defer func() {
		if recover() == nil {
			t.Error("a Detector without rules answered")
		}
	}()
	d.Detect(landing, "https://www.google.com/")
}

// BenchmarkDetectWithReferersFile is BenchmarkDetect over rules with a REFERERS_FILE on
// top: the file's entries live in the same maps, so detection costs the same and
// allocates nothing.
func BenchmarkDetectWithReferersFile(b *testing.B) {
	rules, err := ReadReferers("testdata/referers.yml")
	if err != nil {
		b.Fatal(err)
	}
	benchDetections(b, New(Options{Rules: rules, InternalDomains: []string{"acme-crm.com"}}))
}

// BenchmarkReadReferers is what REFERERS_FILE adds to a start: read, parse, compile.
func BenchmarkReadReferers(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadReferers("testdata/referers.yml"); err != nil {
			b.Fatal(err)
		}
	}
}
