package source

import "testing"

func TestOptions(t *testing.T) {
	d := New(Options{
		InternalDomains:  []string{"Example.com", " https://shop.example.net/path ", "*.corp.example", ""},
		IgnoredReferrers: []string{"secure.payments.example"},
	})
	for _, ref := range []string{
		"https://example.com/", "https://www.example.com/", "https://app.example.com/",
		"https://shop.example.net/cart", "https://intranet.corp.example/", "https://secure.payments.example/3ds",
	} {
		if got := d.Detect("https://www.example.org/", ref).Referrer.Type; got != TypeInternal {
			t.Errorf("%s: got %s, want internal", ref, got)
		}
	}
	for _, ref := range []string{"https://notexample.com/", "https://example.com.evil.net/", "https://example.net/"} {
		if got := d.Detect("https://www.example.org/", ref).Referrer.Type; got != TypeLink {
			t.Errorf("%s: got %s, want link", ref, got)
		}
	}
}
