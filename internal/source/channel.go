package source

import "strings"

// Channel groups, after GA4's default channel group, plus AI Assistants and Internal.
const (
	ChannelDirect          = "Direct"
	ChannelCrossNetwork    = "Cross-network"
	ChannelPaidShopping    = "Paid Shopping"
	ChannelPaidSearch      = "Paid Search"
	ChannelPaidSocial      = "Paid Social"
	ChannelPaidVideo       = "Paid Video"
	ChannelDisplay         = "Display"
	ChannelPaidOther       = "Paid Other"
	ChannelAIAssistants    = "AI Assistants"
	ChannelOrganicShopping = "Organic Shopping"
	ChannelOrganicSocial   = "Organic Social"
	ChannelOrganicVideo    = "Organic Video"
	ChannelOrganicSearch   = "Organic Search"
	ChannelReferral        = "Referral"
	ChannelEmail           = "Email"
	ChannelAffiliates      = "Affiliates"
	ChannelAudio           = "Audio"
	ChannelSMS             = "SMS"
	ChannelPush            = "Mobile Push Notifications"
	ChannelUnassigned      = "Unassigned"
	// ChannelInternal marks navigation within the site, which GA4 folds into the
	// session it belongs to; such page views are never touches.
	ChannelInternal = "Internal"
)

// channel applies GA4's default channel group rules in GA4's order. cat is what the
// source is (from utm_source when present, else the referrer or a click id), med the
// class of utm_medium. AI Assistants sits before the organic groups, so a link an
// assistant shows is not counted as referral; paid traffic from it still counts as paid.
func channel(typ Type, cat, med category, c *Campaign) string {
	name := ""
	if c != nil {
		name = c.Campaign
	}
	if typ == TypeDirect && c == nil && cat == catNone {
		return ChannelDirect
	}
	if name != "" && containsFold(name, "cross-network") {
		return ChannelCrossNetwork
	}
	shopping := cat == catShopping || isShoppingCampaign(name)
	paid := typ == TypeAd && med != catDisplay || med == catPaid
	if paid {
		switch {
		case shopping:
			return ChannelPaidShopping
		case cat == catSearch:
			return ChannelPaidSearch
		case cat == catSocial:
			return ChannelPaidSocial
		case cat == catVideo:
			return ChannelPaidVideo
		}
	}
	if med == catDisplay || cat == catDisplay {
		return ChannelDisplay
	}
	if paid {
		return ChannelPaidOther
	}
	switch {
	case cat == catAI:
		return ChannelAIAssistants
	case shopping:
		return ChannelOrganicShopping
	case cat == catSocial || med == catSocial:
		return ChannelOrganicSocial
	case cat == catVideo || med == catVideo:
		return ChannelOrganicVideo
	case cat == catSearch || med == catSearch:
		return ChannelOrganicSearch
	case med == catReferral:
		return ChannelReferral
	case cat == catEmail || med == catEmail:
		return ChannelEmail
	case cat == catAffiliate || med == catAffiliate:
		return ChannelAffiliates
	case cat == catAudio || med == catAudio:
		return ChannelAudio
	case cat == catSMS || med == catSMS:
		return ChannelSMS
	case cat == catPush || med == catPush:
		return ChannelPush
	case cat == catReferral && med == catNone && (c == nil || c.Medium == ""):
		return ChannelReferral
	}
	return ChannelUnassigned
}

// isShoppingCampaign is GA4's campaign test ^(.*(([^a-df-z]|^)shop|shopping).*)$,
// case-insensitive: "shopping", or "shop" at the start or after anything but a
// letter other than e ("eshop" and "summer_shop" yes, "workshop" no).
func isShoppingCampaign(name string) bool {
	for i := 0; i+4 <= len(name); i++ {
		if !strings.EqualFold(name[i:i+4], "shop") {
			continue
		}
		if i+8 <= len(name) && strings.EqualFold(name[i:i+8], "shopping") {
			return true
		}
		if i == 0 {
			return true
		}
		p := name[i-1] | 0x20 // lower-case a letter; other bytes stay outside a-z
		if !('a' <= p && p <= 'z') || p == 'e' {
			return true
		}
	}
	return false
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
