package source

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBuiltinRules(t *testing.T) {
	if builtinErr != nil {
		t.Fatalf("rules.json: %v", builtinErr)
	}
}

// TestEveryRuleIsDetected walks rules.json itself, so a new entry is tested the moment
// a marketer adds it: every domain, path and app of every source, and every parameter.
func TestEveryRuleIsDetected(t *testing.T) {
	var f ruleFile
	if err := json.Unmarshal(rulesJSON, &f); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Sources {
		want := named(r.Type, r.Name)
		paths := r.Paths
		if len(paths) == 0 {
			paths = []string{"/"}
		}
		for _, domain := range r.Domains {
			for _, tail := range []string{"com", "co.uk"} {
				host := domain
				if rest, ok := strings.CutSuffix(domain, ".*"); ok {
					host = rest + "." + tail
				} else if tail != "com" {
					continue
				}
				for _, p := range paths {
					ref := "https://" + host + p
					checkRule(t, r, want, ref)
					checkRule(t, r, want, "https://sub."+host+p) // subdomains count
				}
			}
		}
		for _, app := range r.Apps {
			checkRule(t, r, want, "android-app://"+app+"/")
		}
	}
	for _, p := range f.Params {
		got := Detect(landing+"?"+p.Param+"=x1", "")
		switch {
		case p.Type != "":
			if want := named(p.Type, p.Name); got.Referrer != want {
				t.Errorf("param %s: got %+v, want %+v", p.Param, got.Referrer, want)
			}
		default:
			if got.Referrer.Type != TypeDirect || got.Channel == ChannelDirect || got.Channel == ChannelUnassigned {
				t.Errorf("param %s: got %+v, want direct with the %s channel", p.Param, got, p.Category)
			}
		}
	}
}

func checkRule(t *testing.T, r sourceRule, want Referrer, ref string) {
	t.Helper()
	got := Detect(landing, ref).Referrer
	got.From, got.Link, got.Query = "", "", ""
	if r.Type == TypeInternal || r.Type == TypeLink {
		want = Referrer{Type: r.Type}
	}
	if got != want {
		t.Errorf("%s %q: Detect(%q) = %+v, want %+v", r.Type, r.Name, ref, got, want)
	}
}

func TestCompileRulesRejectsMistakes(t *testing.T) {
	for name, rules := range map[string]string{
		"not json":         `{`,
		"misspelt key":     `{"sources": [{"type": "search", "name": "x", "domain": ["x.com"]}]}`,
		"unknown type":     `{"sources": [{"type": "video", "name": "x", "domains": ["x.com"]}]}`,
		"no name":          `{"sources": [{"type": "search", "domains": ["x.com"]}]}`,
		"no domains":       `{"sources": [{"type": "search", "name": "x"}]}`,
		"bad domain":       `{"sources": [{"type": "search", "name": "x", "domains": ["https://x.com/"]}]}`,
		"duplicate domain": `{"sources": [{"type": "search", "name": "x", "domains": ["x.com"]}, {"type": "social", "name": "y", "domains": ["X.com"]}]}`,
		"bad path":         `{"sources": [{"type": "search", "name": "x", "domains": ["x.com"], "paths": ["maps"]}]}`,
		"bad category":     `{"sources": [{"type": "search", "name": "x", "domains": ["x.com"], "category": "tv"}]}`,
		"param type":       `{"params": [{"param": "x", "type": "internal", "name": "x"}]}`,
		"param no name":    `{"params": [{"param": "x", "type": "ad"}]}`,
		"medium class":     `{"mediums": {"tv": {"exact": ["tv"]}}}`,
		"utm source class": `{"utmSources": {"tv": ["tv"]}}`,
	} {
		if _, err := compileRules([]byte(rules)); err == nil {
			t.Errorf("%s: compiled without error", name)
		}
	}
}

func TestLookupHostWalksLabels(t *testing.T) {
	tests := []struct {
		host, want string
	}{
		{"google.com", "google"},
		{"www.google.com", "google"},
		{"www.google.co.jp", "google"},
		{"google.com.mx", "google"},
		{"google.cat", "google"},
		{"notgoogle.com", ""},
		{"google.evil.com", ""},
		{"google.co.evil.com", ""},
		{"googlecom", ""},
		{"com", ""},
		{"", ""},
		{"mail.google.com", "gmail"},
		{"a.b.c.mail.google.com", "gmail"},
	}
	for _, tt := range tests {
		got := ""
		if st := builtin.lookupHost(tt.host, "/"); st != nil {
			got = st.name
		}
		if got != tt.want {
			t.Errorf("lookupHost(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in                string
		host, path, query string
		bad               bool
	}{
		{"https://www.google.com/", "www.google.com", "/", "", false},
		{"https://WWW.Google.COM.:8443/a?b=c#d", "www.google.com", "/a", "b=c", false},
		{"https://u:p@host.com", "host.com", "", "", false},
		{"https://host.com?x=1", "host.com", "", "x=1", false},
		{`https://host.com\path`, "host.com", `\path`, "", false},
		{"https://[::1]:80/", "[::1]", "/", "", false},
		{"https://[::1/", "", "", "", true},
		{"javascript:alert(1)", "", "", "", true},
		{"mailto:a@b.c", "", "", "", true},
		{"about:blank", "", "", "", false},
		{"https://", "", "", "", true},
		{"https://a..b/", "", "", "", true},
		{"https://host.com:99x/", "", "", "", true},
		{"/path?q=1", "", "/path", "q=1", false},
		{"android-app://com.google.android.gm/", "com.google.android.gm", "/", "", false},
		{"google.com/search", "google.com", "/search", "", false},
		{"not a url", "", "", "", true},
	}
	for _, tt := range tests {
		u := parseURL(tt.in)
		if u.host != tt.host || u.bad != tt.bad || !u.bad && (u.path != tt.path || u.query != tt.query) {
			t.Errorf("parseURL(%q) = %+v, want host %q path %q query %q bad %v", tt.in, u, tt.host, tt.path, tt.query, tt.bad)
		}
	}
}
