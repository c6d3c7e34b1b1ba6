package source

import (
	"encoding/json"
	"testing"
)

const landing = "https://www.example.org/landing"

// asJSON compares descriptions the way users see them.
func asJSON(t *testing.T, d Description) string {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name, url, referrer, want string
	}{
		// Direct and garbage.
		{"no referrer", landing, "", `{"referrer":{"type":"direct"},"channel":"Direct"}`},
		{"blank referrer", landing, "   ", `{"referrer":{"type":"direct"},"channel":"Direct"}`},
		{"about:blank", landing, "about:blank", `{"referrer":{"type":"direct"},"channel":"Direct"}`},
		{"js null", landing, "null", `{"referrer":{"type":"direct"},"channel":"Direct"}`},
		{"nothing at all", "", "", `{"referrer":{"type":"direct"},"channel":"Direct"}`},
		{"javascript", landing, "javascript:alert(1)", `{"referrer":{"type":"unknown"},"channel":"Unassigned"}`},
		{"not a url", landing, "%%%", `{"referrer":{"type":"unknown"},"channel":"Unassigned"}`},
		{"bad port", landing, "https://www.google.com:http/", `{"referrer":{"type":"unknown"},"channel":"Unassigned"}`},
		{"space in host", landing, "https://www.goo gle.com/", `{"referrer":{"type":"unknown"},"channel":"Unassigned"}`},
		{"empty host", landing, "https:///path", `{"referrer":{"type":"unknown"},"channel":"Unassigned"}`},
		{"relative path", landing, "/pricing", `{"referrer":{"type":"unknown"},"channel":"Unassigned"}`},

		// Search, origin-only as browsers send it, and with terms when present.
		{"google origin", landing, "https://www.google.com/", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`},
		{"google co.uk", landing, "https://www.google.co.uk/", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`},
		{"google com.br", landing, "https://www.google.com.br", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`},
		{"google no www", landing, "https://google.de/", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`},
		{"google upper, port, dot, user", landing, "HTTPS://user:pw@WWW.GOOGLE.FR.:443/", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`},
		{"google query", landing, "https://www.google.com/search?q=crm+for+startups&hl=en", `{"referrer":{"type":"search","engine":"google","query":"crm for startups"},"channel":"Organic Search"}`},
		{"google url redirect", landing, "https://www.google.com/url?q=https://www.example.org/&sa=t", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`},
		{"google app", landing, "android-app://com.google.android.googlequicksearchbox/https/www.google.com", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`},
		{"bing", landing, "https://www.bing.com/search?q=segment%20attribution", `{"referrer":{"type":"search","engine":"bing","query":"segment attribution"},"channel":"Organic Search"}`},
		{"yahoo", landing, "https://search.yahoo.com/search?p=crm", `{"referrer":{"type":"search","engine":"yahoo","query":"crm"},"channel":"Organic Search"}`},
		{"yahoo japan", landing, "https://search.yahoo.co.jp/", `{"referrer":{"type":"search","engine":"yahoo"},"channel":"Organic Search"}`},
		{"baidu", landing, "https://www.baidu.com/s?wd=%E4%BD%A0%E5%A5%BD", `{"referrer":{"type":"search","engine":"baidu","query":"你好"},"channel":"Organic Search"}`},
		{"yandex ru", landing, "https://yandex.ru/search/?text=crm", `{"referrer":{"type":"search","engine":"yandex","query":"crm"},"channel":"Organic Search"}`},
		{"duckduckgo", landing, "https://duckduckgo.com/", `{"referrer":{"type":"search","engine":"duckduckgo"},"channel":"Organic Search"}`},
		{"naver", landing, "https://search.naver.com/search.naver?query=crm", `{"referrer":{"type":"search","engine":"naver","query":"crm"},"channel":"Organic Search"}`},

		// Not Google.
		{"notgoogle", landing, "https://notgoogle.com/", `{"referrer":{"type":"link","from":"https://notgoogle.com/","link":"https://www.example.org/landing"},"channel":"Referral"}`},
		{"google.evil.com", landing, "https://google.evil.com/", `{"referrer":{"type":"link","from":"https://google.evil.com/","link":"https://www.example.org/landing"},"channel":"Referral"}`},
		{"google.com.evil.com", landing, "https://www.google.com.evil.com/search?q=x", `{"referrer":{"type":"link","from":"https://www.google.com.evil.com/search?q=x","link":"https://www.example.org/landing"},"channel":"Referral"}`},
		{"google in path", landing, "https://evil.com/www.google.com/", `{"referrer":{"type":"link","from":"https://evil.com/www.google.com/","link":"https://www.example.org/landing"},"channel":"Referral"}`},
		{"google in userinfo", landing, "https://www.google.com@evil.com/", `{"referrer":{"type":"link","from":"https://www.google.com@evil.com/","link":"https://www.example.org/landing"},"channel":"Referral"}`},
		{"google docs is a link", landing, "https://docs.google.com/document/d/1", `{"referrer":{"type":"link","from":"https://docs.google.com/document/d/1","link":"https://www.example.org/landing"},"channel":"Referral"}`},

		// Google's other faces.
		{"google maps host", landing, "https://maps.google.com/", `{"referrer":{"type":"local","site":"google"},"channel":"Referral"}`},
		{"google maps path", landing, "https://www.google.com/maps/place/x", `{"referrer":{"type":"local","site":"google"},"channel":"Referral"}`},
		{"google mapsearch is not maps", landing, "https://www.google.com/mapsearch", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`},
		{"google aclk", landing, "https://www.google.com/aclk?sa=l&q=crm", `{"referrer":{"type":"ad","network":"google","query":"crm"},"channel":"Paid Search"}`},
		{"googleadservices", landing, "https://www.googleadservices.com/pagead/aclk", `{"referrer":{"type":"ad","network":"google"},"channel":"Paid Search"}`},
		{"google plus", landing, "https://plus.google.com/", `{"referrer":{"type":"social","network":"google+"},"channel":"Organic Social"}`},
		{"gmail", landing, "https://mail.google.com/mail/u/0/", `{"referrer":{"type":"email","client":"gmail","from":"https://mail.google.com/mail/u/0/","link":"https://www.example.org/landing"},"channel":"Email"}`},
		{"gemini", landing, "https://gemini.google.com/", `{"referrer":{"type":"ai","assistant":"gemini"},"channel":"AI Assistants"}`},
		{"google sign-in", landing, "https://accounts.google.com/", `{"referrer":{"type":"internal"},"channel":"Internal"}`},

		// Social.
		{"facebook l.", landing, "https://l.facebook.com/", `{"referrer":{"type":"social","network":"facebook"},"channel":"Organic Social"}`},
		{"facebook lm.", landing, "https://lm.facebook.com/l.php?u=x", `{"referrer":{"type":"social","network":"facebook"},"channel":"Organic Social"}`},
		{"t.co", landing, "https://t.co/", `{"referrer":{"type":"social","network":"twitter"},"channel":"Organic Social"}`},
		{"x.com", landing, "https://x.com/", `{"referrer":{"type":"social","network":"twitter"},"channel":"Organic Social"}`},
		{"lnkd.in", landing, "https://lnkd.in/abc", `{"referrer":{"type":"social","network":"linkedin"},"channel":"Organic Social"}`},
		{"linkedin app", landing, "android-app://com.linkedin.android/", `{"referrer":{"type":"social","network":"linkedin"},"channel":"Organic Social"}`},
		{"pinterest de", landing, "https://www.pinterest.de/", `{"referrer":{"type":"social","network":"pinterest"},"channel":"Organic Social"}`},
		{"youtube is video", landing, "https://www.youtube.com/", `{"referrer":{"type":"social","network":"youtube"},"channel":"Organic Video"}`},

		// Email.
		{"outlook", landing, "https://outlook.live.com/", `{"referrer":{"type":"email","client":"outlook","from":"https://outlook.live.com/","link":"https://www.example.org/landing"},"channel":"Email"}`},
		{"outlook safelinks", landing, "https://eur01.safelinks.protection.outlook.com/", `{"referrer":{"type":"email","client":"outlook","from":"https://eur01.safelinks.protection.outlook.com/","link":"https://www.example.org/landing"},"channel":"Email"}`},
		{"yahoo mail", landing, "https://us-mg5.mail.yahoo.com/neo/launch", `{"referrer":{"type":"email","client":"yahoo","from":"https://us-mg5.mail.yahoo.com/neo/launch","link":"https://www.example.org/landing"},"channel":"Email"}`},
		{"gmail app", landing, "android-app://com.google.android.gm", `{"referrer":{"type":"email","client":"gmail","from":"android-app://com.google.android.gm","link":"https://www.example.org/landing"},"channel":"Email"}`},
		{"unknown app", landing, "android-app://com.example.reader/", `{"referrer":{"type":"link","from":"android-app://com.example.reader/","link":"https://www.example.org/landing"},"channel":"Referral"}`},

		// Local.
		{"yelp", landing, "https://www.yelp.com/biz/x", `{"referrer":{"type":"local","site":"yelp"},"channel":"Referral"}`},
		{"bing local", landing, "https://www.bing.com/local?q=pizza", `{"referrer":{"type":"local","site":"bing","query":"pizza"},"channel":"Referral"}`},

		// AI.
		{"chatgpt", landing, "https://chatgpt.com/", `{"referrer":{"type":"ai","assistant":"chatgpt"},"channel":"AI Assistants"}`},
		{"chatgpt utm, no referrer", landing + "?utm_source=chatgpt.com", "", `{"referrer":{"type":"ai","assistant":"chatgpt"},"campaign":{"source":"chatgpt.com"},"channel":"AI Assistants"}`},
		{"perplexity utm name", landing + "?utm_source=Perplexity", "", `{"referrer":{"type":"ai","assistant":"perplexity"},"campaign":{"source":"Perplexity"},"channel":"AI Assistants"}`},
		{"copilot in bing", landing, "https://www.bing.com/chat?q=x", `{"referrer":{"type":"ai","assistant":"copilot"},"channel":"AI Assistants"}`},

		// Click ids and paid mediums.
		{"gclid", landing + "?gclid=Cj0KCQ", "https://www.google.com/", `{"referrer":{"type":"ad","network":"google"},"channel":"Paid Search"}`},
		{"gclid no referrer", landing + "?gclid=Cj0KCQ", "", `{"referrer":{"type":"ad","network":"google"},"channel":"Paid Search"}`},
		{"gclid upper key", landing + "?GCLID=x", "", `{"referrer":{"type":"ad","network":"google"},"channel":"Paid Search"}`},
		{"empty gclid", landing + "?gclid=", "", `{"referrer":{"type":"direct"},"channel":"Direct"}`},
		{"msclkid", landing + "?msclkid=abc", "https://www.bing.com/", `{"referrer":{"type":"ad","network":"bing"},"channel":"Paid Search"}`},
		{"ttclid", landing + "?ttclid=abc", "", `{"referrer":{"type":"ad","network":"tiktok"},"channel":"Paid Social"}`},
		{"dclid display", landing + "?dclid=abc", "", `{"referrer":{"type":"ad","network":"google"},"channel":"Display"}`},
		{"fbclid alone is social", landing + "?fbclid=IwAR", "https://l.facebook.com/", `{"referrer":{"type":"social","network":"facebook"},"channel":"Organic Social"}`},
		{"fbclid no referrer", landing + "?fbclid=IwAR", "", `{"referrer":{"type":"social","network":"facebook"},"channel":"Organic Social"}`},
		{"fbclid from a blog", landing + "?fbclid=IwAR", "https://blog.example.net/", `{"referrer":{"type":"link","from":"https://blog.example.net/","link":"https://www.example.org/landing?fbclid=IwAR"},"channel":"Referral"}`},
		{"facebook paid social", landing + "?utm_source=facebook&utm_medium=paid_social&fbclid=x", "https://m.facebook.com/", `{"referrer":{"type":"ad","network":"facebook"},"campaign":{"source":"facebook","medium":"paid_social"},"channel":"Paid Social"}`},
		{"bing cpc like inbound", landing + "?utm_medium=cpc", "https://www.bing.com/search?q=crm", `{"referrer":{"type":"ad","network":"bing","query":"crm"},"campaign":{"medium":"cpc"},"channel":"Paid Search"}`},
		{"cpm banner", landing + "?utm_source=partner&utm_medium=banner", "", `{"referrer":{"type":"ad","network":"partner"},"campaign":{"source":"partner","medium":"banner"},"channel":"Display"}`},
		{"paid other", landing + "?utm_source=podnews&utm_medium=ppc", "", `{"referrer":{"type":"ad","network":"podnews"},"campaign":{"source":"podnews","medium":"ppc"},"channel":"Paid Other"}`},
		{"paid shopping", landing + "?utm_source=google&utm_medium=cpc&utm_campaign=Summer_Shopping", "", `{"referrer":{"type":"ad","network":"google"},"campaign":{"source":"google","medium":"cpc","campaign":"Summer_Shopping"},"channel":"Paid Shopping"}`},
		{"youtube cpv", landing + "?utm_source=youtube&utm_medium=cpv", "", `{"referrer":{"type":"ad","network":"youtube"},"campaign":{"source":"youtube","medium":"cpv"},"channel":"Paid Video"}`},

		// srsltid.
		{"srsltid with google", landing + "?srsltid=AfmBO", "https://www.google.com/", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Shopping"}`},
		{"srsltid alone", landing + "?srsltid=AfmBO", "", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Shopping"}`},

		// Campaigns.
		{"newsletter in desktop app", landing + "?utm_source=newsletter&utm_medium=email&utm_campaign=spring&utm_term=crm&utm_content=hero", "", `{"referrer":{"type":"direct"},"campaign":{"source":"newsletter","medium":"email","campaign":"spring","term":"crm","content":"hero"},"channel":"Email"}`},
		{"newsletter in gmail", landing + "?utm_source=newsletter&utm_medium=email", "https://mail.google.com/", `{"referrer":{"type":"email","client":"gmail","from":"https://mail.google.com/","link":"https://www.example.org/landing?utm_source=newsletter\u0026utm_medium=email"},"campaign":{"source":"newsletter","medium":"email"},"channel":"Email"}`},
		{"mailchimp id only", landing + "?mc_cid=abc", "", `{"referrer":{"type":"direct"},"channel":"Email"}`},
		{"organic social medium", landing + "?utm_source=mastodon&utm_medium=social", "", `{"referrer":{"type":"direct"},"campaign":{"source":"mastodon","medium":"social"},"channel":"Organic Social"}`},
		{"sms", landing + "?utm_source=sms&utm_medium=text", "", `{"referrer":{"type":"direct"},"campaign":{"source":"sms","medium":"text"},"channel":"SMS"}`},
		{"push", landing + "?utm_source=app&utm_medium=web_push", "", `{"referrer":{"type":"direct"},"campaign":{"source":"app","medium":"web_push"},"channel":"Mobile Push Notifications"}`},
		{"affiliate", landing + "?utm_source=awin&utm_medium=affiliate", "https://www.deals.example/", `{"referrer":{"type":"link","from":"https://www.deals.example/","link":"https://www.example.org/landing?utm_source=awin\u0026utm_medium=affiliate"},"campaign":{"source":"awin","medium":"affiliate"},"channel":"Affiliates"}`},
		{"cross-network", landing + "?utm_source=google&utm_medium=cpc&utm_campaign=pmax_Cross-Network", "", `{"referrer":{"type":"ad","network":"google"},"campaign":{"source":"google","medium":"cpc","campaign":"pmax_Cross-Network"},"channel":"Cross-network"}`},
		{"unknown source and medium", landing + "?utm_source=foo&utm_medium=bar", "", `{"referrer":{"type":"direct"},"campaign":{"source":"foo","medium":"bar"},"channel":"Unassigned"}`},
		{"utm_source overrides referrer for channel", landing + "?utm_source=newsletter", "https://www.google.com/", `{"referrer":{"type":"search","engine":"google"},"campaign":{"source":"newsletter"},"channel":"Email"}`},

		// Internal.
		{"same host", landing, "https://www.example.org/pricing", `{"referrer":{"type":"internal"},"channel":"Internal"}`},
		{"same host without www", landing, "https://example.org/", `{"referrer":{"type":"internal"},"channel":"Internal"}`},
		{"same host, click id ignored", landing + "?gclid=x", "https://www.example.org/", `{"referrer":{"type":"internal"},"campaign":null,"channel":"Internal"}`},
		{"stripe return", landing, "https://checkout.stripe.com/c/pay/cs_live_a1", `{"referrer":{"type":"internal"},"channel":"Internal"}`},
		{"paypal", landing, "https://www.paypal.com/checkoutnow", `{"referrer":{"type":"internal"},"channel":"Internal"}`},
		{"apple sign-in", landing, "https://appleid.apple.com/", `{"referrer":{"type":"internal"},"channel":"Internal"}`},
		{"microsoft sign-in", landing, "https://login.microsoftonline.com/", `{"referrer":{"type":"internal"},"channel":"Internal"}`},
		{"subdomain is not same host", landing, "https://blog.example.org/", `{"referrer":{"type":"link","from":"https://blog.example.org/","link":"https://www.example.org/landing"},"channel":"Referral"}`},

		// Link.
		{"link", landing, "https://news.example.net/article?id=1", `{"referrer":{"type":"link","from":"https://news.example.net/article?id=1","link":"https://www.example.org/landing"},"channel":"Referral"}`},
		{"idn link", landing, "https://bücher.de/", `{"referrer":{"type":"link","from":"https://bücher.de/","link":"https://www.example.org/landing"},"channel":"Referral"}`},
		{"punycode link", landing, "https://xn--bcher-kva.de/", `{"referrer":{"type":"link","from":"https://xn--bcher-kva.de/","link":"https://www.example.org/landing"},"channel":"Referral"}`},
		{"scheme-less referrer", landing, "www.google.com", `{"referrer":{"type":"search","engine":"google"},"channel":"Organic Search"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(tt.url, tt.referrer)
			var want Description
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatalf("bad want: %v", err)
			}
			if !equalDescriptions(got, want) {
				t.Errorf("Detect(%q, %q)\n got %s\nwant %s", tt.url, tt.referrer, asJSON(t, got), asJSON(t, want))
			}
		})
	}
}

func equalDescriptions(a, b Description) bool {
	if a.Referrer != b.Referrer || a.Channel != b.Channel || (a.Campaign == nil) != (b.Campaign == nil) {
		return false
	}
	return a.Campaign == nil || *a.Campaign == *b.Campaign
}
