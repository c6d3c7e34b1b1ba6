package source

import (
	"encoding/json"
	"testing"
)

var validTypes = map[Type]bool{
	TypeSearch: true, TypeSocial: true, TypeEmail: true, TypeAd: true, TypeLocal: true,
	TypeAI: true, TypeInternal: true, TypeLink: true, TypeDirect: true, TypeUnknown: true,
}

// FuzzDetect checks that any input gives a valid, marshalable description.
func FuzzDetect(f *testing.F) {
	for _, s := range [][2]string{
		{"https://www.example.org/", ""},
		{"https://www.example.org/?gclid=x&utm_source=google&utm_medium=cpc", "https://www.google.co.uk/"},
		{"https://www.example.org/?utm_campaign=%E2%80%93+a%", "https://mail.google.com/"},
		{"", "android-app://com.google.android.gm/"},
		{"https://[::1]:80/?srsltid=1", "https://u@[::1/"},
		{"javascript:alert(1)", "about:blank"},
		{"https://x/?fbclid=1", "https://l.facebook.com./?q=%"},
		{"//a?b", "https://google.evil.com:443/search?q=x"},
		{"https://ex.com/?utm_source=chatgpt.com", "\x00\xff"},
	} {
		f.Add(s[0], s[1])
	}
	d := New(Options{InternalDomains: []string{"example.org"}})
	f.Fuzz(func(t *testing.T, pageURL, referrer string) {
		got := d.Detect(pageURL, referrer)
		if !validTypes[got.Referrer.Type] {
			t.Fatalf("invalid type %q", got.Referrer.Type)
		}
		if got.Channel == "" {
			t.Fatal("empty channel")
		}
		if _, err := json.Marshal(got); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}
